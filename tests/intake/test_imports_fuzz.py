"""Spreadsheet imports fuzzed: random CSV text in random encodings, random workbooks, damaged
files and zip bombs. Every file is either read or refused with ValidationFailed and a short
message; a refused file writes nothing; no message quotes a narrative; a bomb is refused in
bounded time and memory."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
import struct
import time
import tracemalloc
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, currently_in_test_context, event, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook  # type: ignore[import-untyped]
from openpyxl.utils.exceptions import IllegalCharacterError  # type: ignore[import-untyped]
from sqlalchemy import func, select

from haven.audit.models import AuditEntry
from haven.errors import ValidationFailed
from haven.intake.imports import (
    FIELDS,
    FREEDOM_HOUSE,
    HAVEN_COLUMNS,
    Checked,
    Mapping,
    check,
    run_import,
)
from haven.registry.models import Contributor, Incident, Person
from haven.registry.writer import Actor
from haven.runtime import Runtime

Cli = Callable[..., Any]

# A narrative no message may ever quote: longer than any quoted country or tactic.
SECRET = "a narrative that names the sister who is still in the home country"
MAPPINGS = (FREEDOM_HOUSE, HAVEN_COLUMNS)
LONGEST_MESSAGE = 1_500
MEBIBYTE = 1024 * 1024
# A bomb is refused within these, measured around the refusal alone.
BOMB_SECONDS = 5.0
BOMB_PEAK_BYTES = 200 * MEBIBYTE

_FUZZ = settings(
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def fuzz(examples: int) -> settings:
    """Bounded runs that keep no example database, so every run starts afresh."""
    return settings(_FUZZ, max_examples=examples)


# -- what a sheet may hold ------------------------------------------------------------------

_HEADERS = sorted(
    {header for mapping in MAPPINGS for _, header in mapping.columns}
    | {"YEAR", " origin   country ", "Tactic ", "tactic", "Notes", "id"}
)
_WORDS = (
    "2019",
    "2024",
    "1899",
    str(date.today().year + 1),
    "٢٠٢٠",
    "2020.0",
    "20",
    "2021-05-04",
    "2024-13-45",
    "2023-02-29",
    "0000-00-00",
    "9999-12-31",
    "China",
    "CN",
    "CHN",
    "Turkey",
    "us",
    "Narnia",
    "XK",
    "00",
    "Detention",
    "spyware; Assault",
    ";;",
    "surveillance",
    "Poisoning",
    "Activist",
    "journalist",
    "yes",
    "no",
    "maybe",
    "https://example.org/source",
)
_FORMULAS = (
    "=cmd|' /C calc'!A0",
    "=1+1",
    "+SUM(A1:A9)",
    "-2+3",
    "@SUM(1)",
    '=HYPERLINK("http://example.org","x")',
    "\t=1",
    "=1/0",
    "#DIV/0!",
    "#REF!",
)
_ODD = (
    "\u202eevil\u202c",
    "مرحبا",
    "🙂🙂",
    "\ufeff",
    "\u2028",
    '"',
    '""',
    '"unclosed',
    "a\rb",
    "a\r\nb",
    "\n",
    " ",
    "\x1b[31m",
    SECRET,
)


def _huge() -> st.SearchStrategy[str]:
    return st.builds(
        lambda piece, times: piece * times,
        st.sampled_from(["x", "é", "🙂", "a,b", '"', "\n", SECRET]),
        st.integers(1_000, 140_000),
    )


# Any text but NUL, which _DAMAGE brings in now and then: a NUL refuses the whole file.
_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40)
CELLS = st.one_of(st.sampled_from(_WORDS), st.sampled_from(_FORMULAS), st.sampled_from(_ODD), _TEXT)
HEADER_CELLS = st.one_of(st.sampled_from(_HEADERS), st.sampled_from(_HEADERS), _TEXT, st.just(""))


@dataclass(frozen=True)
class CsvFile:
    data: bytes
    mapping: Mapping


def _one_huge_cell(draw: st.DrawFn, rows: list[list[Any]]) -> None:
    """Now and then one cell of up to 140,000 characters (one: a file of them is slow to make)."""
    filled = [row for row in rows if row]
    if filled and draw(st.integers(0, 3)) == 0:
        row = draw(st.sampled_from(filled))
        row[draw(st.integers(0, len(row) - 1))] = draw(_huge())


def _mixed_header(draw: st.DrawFn, mapping: Mapping) -> list[str]:
    """The mapping's headers in some order, now and then one left out, between junk ones."""
    header = list(draw(st.permutations([header for _, header in mapping.columns])))
    if header and draw(st.integers(0, 4)) == 0:
        header.pop(draw(st.integers(0, len(header) - 1)))
    for _ in range(draw(st.integers(0, 3))):
        header.insert(draw(st.integers(0, len(header))), draw(HEADER_CELLS))
    return header


@st.composite
def _csv_text(draw: st.DrawFn, mapping: Mapping) -> str:
    if draw(st.booleans()):
        header = _mixed_header(draw, mapping)
    else:
        header = draw(st.lists(HEADER_CELLS, min_size=0, max_size=12))
    rows = draw(st.lists(st.lists(CELLS, max_size=14), max_size=8))
    _one_huge_cell(draw, rows)
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    ending = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    buffer = io.StringIO(newline="")
    if draw(st.booleans()):
        writer = csv.writer(buffer, delimiter=delimiter, lineterminator=ending)
        writer.writerow(header)
        writer.writerows(rows)
    else:  # cells joined as they are: unquoted separators, quotes and line breaks
        for row in [header, *rows]:
            buffer.write(delimiter.join(row) + ending)
    return buffer.getvalue()


def _encode(text: str, encoding: str) -> bytes:
    if encoding in ("latin-1", "cp1252"):
        return text.encode(encoding, errors="replace")
    return text.encode(encoding, errors="surrogatepass")


_DAMAGE = (b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x00", b"\xef\xbb\xbf")


@st.composite
def csv_files(draw: st.DrawFn) -> CsvFile:
    mapping = draw(st.sampled_from(MAPPINGS))
    if draw(st.integers(0, 9)) == 0:
        data = draw(st.binary(max_size=400))
    else:
        encoding = draw(
            st.sampled_from(
                ["utf-8"] * 4
                + ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "latin-1"]
                + ["cp1252"]
            )
        )
        data = _encode(draw(_csv_text(mapping)), encoding)
        for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):
            place = draw(st.integers(0, len(data)))
            data = data[:place] + draw(st.sampled_from(_DAMAGE)) + data[place:]
        if draw(st.integers(0, 5)) == 0:
            data = data[: draw(st.integers(0, len(data)))]
    return CsvFile(data, mapping)


# -- what every outcome must be -------------------------------------------------------------


def _assert_clear(message: str) -> None:
    assert message.strip()
    assert len(message) <= LONGEST_MESSAGE, message[:200]
    assert SECRET not in message


def _event(name: str) -> None:
    """Counted for --hypothesis-show-statistics, in fuzzed tests only."""
    if currently_in_test_context():
        event(name)


def read(data: bytes, mapping: Mapping) -> Checked | None:
    """The checked sheet, or None when it was refused as a whole (with a clear message); any
    other exception fails the test."""
    try:
        checked = check(data, mapping)
    except ValidationFailed as refusal:
        _assert_clear(refusal.one_line())
        _event("refused as a whole")
        return None
    _event("every row good" if checked.ok else "rows with problems")
    assert checked.lines >= 1
    assert len(checked.rows) + checked.bad_lines == checked.lines
    for problem in checked.problems:
        assert problem.line >= 2
        _assert_clear(problem.describe())
    _assert_clear(checked.summary())
    return checked


@dataclass(frozen=True)
class Counts:
    incidents: int
    people: int
    audit: int


def _count(runtime: Runtime) -> Counts:
    with runtime.reading() as session:

        def rows(model: type) -> int:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)

        return Counts(rows(Incident), rows(Person), rows(AuditEntry))


@pytest.fixture
def organisation(cli: Cli, runtime: Runtime) -> str:
    created = cli("orgs", "create", "Exile Legal Aid", "--kind", "ngo")
    assert created.code == 0, created.err
    with runtime.reading() as session:
        found = session.scalar(select(Contributor.id).where(Contributor.name == "Exile Legal Aid"))
    assert found is not None
    return found


def _import(runtime: Runtime, organisation: str, checked: Checked) -> int:
    """Import the rows in one transaction; a refusal on the way leaves nothing behind."""
    before = _count(runtime)
    try:
        with runtime.transaction() as session:
            counts = run_import(
                session, runtime.cipher(), Actor(organisation, "test:fuzz", "test"), checked.rows
            )
    except ValidationFailed as refusal:
        _assert_clear(refusal.one_line())
        assert _count(runtime) == before
        return 0
    after = _count(runtime)
    assert after.incidents == before.incidents + counts.imported
    assert counts.imported + counts.already == len(checked.rows)
    return counts.imported


# -- CSV ------------------------------------------------------------------------------------


@fuzz(800)
@given(sheet=csv_files())
def test_any_csv_is_read_or_refused_with_a_clear_message(sheet: CsvFile) -> None:
    read(sheet.data, sheet.mapping)


@st.composite
def _plausible_csv(draw: st.DrawFn, mapping: Mapping) -> bytes:
    header = _mixed_header(draw, mapping)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    row = st.lists(st.sampled_from(_WORDS + _FORMULAS), min_size=len(header), max_size=len(header))
    writer.writerows(draw(st.lists(row, max_size=6)))
    return buffer.getvalue().encode()


@fuzz(600)
@given(data=st.data(), mapping=st.sampled_from(MAPPINGS))
def test_real_and_junk_headers_with_plausible_cells(data: st.DataObject, mapping: Mapping) -> None:
    read(data.draw(_plausible_csv(mapping)), mapping)


@fuzz(100)
@given(sheet=csv_files(), good=st.booleans())
def test_a_csv_import_writes_every_row_or_nothing(
    runtime: Runtime, organisation: str, sheet: CsvFile, good: bool
) -> None:
    data = sheet.data
    if good:  # a well-formed sheet now and then, so that some imports get written
        noise = sheet.data.decode("latin-1")[:200]
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([header for _, header in sheet.mapping.columns])
        for year, origin, tactic in (("2019", "China", "Detention"), ("2021", "RU", "spyware")):
            cells = {"year": year, "origin_state": origin, "tactic": tactic, "sources": noise}
            writer.writerow([cells.get(name, "") for name, _ in sheet.mapping.columns])
        data = buffer.getvalue().encode()
    before = _count(runtime)
    checked = read(data, sheet.mapping)
    assert _count(runtime) == before
    if checked is not None and checked.ok:
        _import(runtime, organisation, checked)
        # The same file again adds nothing.
        assert _import(runtime, organisation, checked) == 0


@fuzz(40)
@given(sheet=csv_files(), dry_run=st.booleans())
def test_haven_import_exits_with_a_message_and_writes_nothing_when_it_refuses(
    cli: Cli, runtime: Runtime, organisation: str, sheet: CsvFile, dry_run: bool
) -> None:
    path = runtime.settings.data_dir / "sheet.csv"
    path.write_bytes(sheet.data)
    mapping = "freedom-house" if sheet.mapping is FREEDOM_HOUSE else "haven"
    before = _count(runtime)
    argv = ["import", str(path), "--org", organisation, "--mapping", mapping]
    outcome = cli(*argv, *(["--dry-run"] if dry_run else []))
    assert outcome.code in (0, 2), outcome
    if outcome.code == 2 or dry_run:
        assert _count(runtime) == before
    if outcome.code == 2:
        assert outcome.err.startswith("error: ")
        _assert_clear(outcome.err)
    assert SECRET not in outcome.out


def test_a_header_with_many_columns_is_refused_before_rows_are_padded() -> None:
    # A megabyte of commas and a million one-byte rows would otherwise become a million rows
    # of a million cells each.
    data = b"," * MEBIBYTE + b"year\n" + b"1\n" * 100_000
    _refused(_bounded(data), "more than 1000 columns")


def test_lines_ended_by_carriage_returns_alone_are_read() -> None:
    # Found by the fuzzer: the separator was guessed from the text up to the first "\n".
    checked = read(b"year;origin_state;tactic\r2020;CN;Detention\r", HAVEN_COLUMNS)
    assert checked is not None
    assert checked.ok
    assert [row.incident.origin_state for row in checked.rows] == ["CN"]


_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=20), inner, max_size=6)
    ),
    max_leaves=12,
)
_MAPPING_FILES = st.one_of(
    _JSON.map(json.dumps),
    st.dictionaries(
        st.sampled_from([*FIELDS, "Year", "place"]), st.one_of(st.sampled_from(_HEADERS), _TEXT)
    ).map(json.dumps),
    st.binary(max_size=200),
    st.sampled_from(["[" * 100_000, "1" * 5_000, '{"year": "Year"', "\ufeff{}", ""]),
)


@fuzz(500)
@given(text=_MAPPING_FILES)
def test_any_mapping_file_is_read_or_refused_with_a_clear_message(text: str | bytes) -> None:
    # Found by the fuzzer: "[[[[..." raised RecursionError and a 5,000-digit number ValueError.
    try:
        mapping = Mapping.from_json(text)
    except ValidationFailed as refusal:
        _assert_clear(refusal.one_line())
        return
    assert {name for name, _ in mapping.columns} <= set(FIELDS)


# -- XLSX -----------------------------------------------------------------------------------

XLSX_VALUES = st.one_of(
    CELLS,
    st.integers(-(2**63), 2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.datetimes(min_value=datetime(1900, 3, 1), max_value=datetime(2100, 1, 1)),
    st.dates(min_value=date(1900, 3, 1), max_value=date(2100, 1, 1)),
    st.times(),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=9000)),
    st.none(),
)


# What XML 1.0 cannot hold at all; openpyxl refuses only the control characters among it.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _put(sheet: Any, row: int, column: int, value: Any) -> None:
    if isinstance(value, str):
        value = _NOT_XML.sub("?", value)
    try:
        sheet.cell(row=row, column=column, value=value)
    except (IllegalCharacterError, ValueError, TypeError):
        # openpyxl refuses what a spreadsheet program could not save either.
        sheet.cell(row=row, column=column, value=None)


@st.composite
def workbooks(draw: st.DrawFn) -> bytes:
    workbook = Workbook()
    sheets = [workbook.active]
    for _ in range(draw(st.integers(0, 2))):
        sheets.append(workbook.create_sheet(draw(st.sampled_from(["Data", "Notes", "Sheet 3"]))))
    if draw(st.integers(0, 9)) == 0:
        workbook.create_chartsheet()
        workbook.remove(sheets.pop(0))
    for sheet in sheets:
        if draw(st.integers(0, 4)) == 0:
            continue  # an empty sheet
        if draw(st.booleans()):  # the headers a mapping reads, in some order
            header = draw(
                st.permutations([header for _, header in draw(st.sampled_from(MAPPINGS)).columns])
            )
        else:
            header = draw(st.lists(HEADER_CELLS, max_size=10))
        for column, value in enumerate(header, start=1):
            _put(sheet, 1, column, value)
        for _ in range(draw(st.integers(0, 30))):
            _put(
                sheet,
                draw(st.integers(1, 40)),
                draw(st.integers(1, 14)),
                draw(st.one_of(XLSX_VALUES, st.sampled_from(_WORDS))),
            )
        if draw(st.integers(0, 3)) == 0:  # a very long string
            _put(sheet, draw(st.integers(1, 40)), draw(st.integers(1, 14)), draw(_huge()))
        for _ in range(draw(st.integers(0, 3))):
            top, left = draw(st.integers(1, 20)), draw(st.integers(1, 10))
            sheet.merge_cells(
                start_row=top,
                start_column=left,
                end_row=top + draw(st.integers(0, 3)),
                end_column=left + draw(st.integers(1, 3)),
            )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@fuzz(200)
@given(data=workbooks(), mapping=st.sampled_from(MAPPINGS))
def test_any_workbook_is_read_or_refused_with_a_clear_message(
    data: bytes, mapping: Mapping
) -> None:
    read(data, mapping)


@pytest.fixture(scope="module")
def valid_workbook() -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append([header for _, header in FREEDOM_HOUSE.columns])
    sheet.append([2019, "China", "Turkey", "Detention", "Activist", "yes", "https://example.org"])
    sheet.append([2021, "RU", "DE", "spyware", "journalist", "no", None])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@fuzz(500)
@given(
    cut=st.one_of(st.none(), st.integers(0, 20_000)),
    flips=st.lists(st.tuples(st.integers(0, 20_000), st.integers(1, 255)), max_size=6),
)
def test_a_damaged_workbook_is_read_or_refused_with_a_clear_message(
    valid_workbook: bytes, cut: int | None, flips: list[tuple[int, int]]
) -> None:
    data = bytearray(valid_workbook if cut is None else valid_workbook[:cut])
    for place, mask in flips:
        if data:
            data[place % len(data)] ^= mask
    read(bytes(data), FREEDOM_HOUSE)


def test_a_zip_needing_a_newer_unzipper_is_refused() -> None:
    # Found by the fuzzer: zipfile raises NotImplementedError, not BadZipFile, for an entry
    # that says it needs ZIP version 8.4 to be unpacked.
    data = bytearray(_workbook(_SHEET_START + _HEADER_ROW + _GOOD_ROW + _SHEET_END))
    central = data.find(b"PK\x01\x02")
    data[central + 6 : central + 8] = struct.pack("<H", 84)
    assert read(bytes(data), HAVEN_COLUMNS) is None


@st.composite
def zips(draw: st.DrawFn) -> bytes:
    buffer = io.BytesIO()
    names = st.one_of(
        st.sampled_from(
            [
                "xl/workbook.xml",
                "[Content_Types].xml",
                "_rels/.rels",
                "xl/_rels/workbook.xml.rels",
                "xl/worksheets/sheet1.xml",
                "xl/sharedStrings.xml",
                "word/document.xml",
                "mimetype",
            ]
        ),
        st.text(min_size=1, max_size=20),
    )
    contents = st.one_of(
        st.binary(max_size=200),
        st.sampled_from([b"<workbook/>", b"<?xml version='1.0'?><a>", b"<x>&lol;</x>", b""]),
    )
    with zipfile.ZipFile(buffer, "w", draw(st.sampled_from([zipfile.ZIP_STORED, 8]))) as archive:
        for name in draw(st.lists(names, max_size=6, unique=True)):
            # A name zipfile cannot write (IndexError: one cut to nothing at a NUL) is left out.
            with contextlib.suppress(ValueError, UnicodeEncodeError, IndexError):
                archive.writestr(name, draw(contents))
    return buffer.getvalue()


@fuzz(300)
@given(data=zips())
def test_a_zip_that_is_not_a_workbook_is_refused_with_a_clear_message(data: bytes) -> None:
    assert read(data, FREEDOM_HOUSE) is None


# -- bombs ----------------------------------------------------------------------------------


def _bounded(
    data: bytes, mapping: Mapping = HAVEN_COLUMNS, *, traced: bool = True
) -> Checked | ValidationFailed:
    """What checking ``data`` returns, or the refusal it raises, after asserting that it ends
    within BOMB_SECONDS and, checked a second time under tracemalloc, that Python allocates at
    most BOMB_PEAK_BYTES on the way (zlib's buffers included). The time is taken untraced, as
    tracing slows every allocation."""

    def attempt() -> Checked | ValidationFailed:
        try:
            return check(data, mapping)
        except ValidationFailed as refusal:
            return refusal

    started = time.monotonic()
    outcome = attempt()
    seconds = time.monotonic() - started
    assert seconds < BOMB_SECONDS, seconds
    if traced:
        tracemalloc.start()
        try:
            attempt()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < BOMB_PEAK_BYTES, peak
    return outcome


def _refused(outcome: Checked | ValidationFailed, pattern: str) -> None:
    assert isinstance(outcome, ValidationFailed), outcome
    assert re.search(pattern, outcome.message), outcome.message
    _assert_clear(outcome.one_line())


_CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    b'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
    b'<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
    b'officedocument.spreadsheetml.sheet.main+xml"/>'
    b'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.'
    b'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'
)
_RELS = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    b'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    b'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    b'<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    b'relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
)
_SHEET_START = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
)
# The header line the Haven columns mapping needs, and one good row.
_HEADER_ROW = (
    b'<row r="1"><c r="A1" t="inlineStr"><is><t>year</t></is></c>'
    b'<c r="B1" t="inlineStr"><is><t>origin_state</t></is></c>'
    b'<c r="C1" t="inlineStr"><is><t>tactic</t></is></c></row>'
)
_GOOD_ROW = (
    b'<row r="2"><c r="A2"><v>2019</v></c><c r="B2" t="inlineStr"><is><t>CN</t></is></c>'
    b'<c r="C2" t="inlineStr"><is><t>Detention</t></is></c></row>'
)
_SHEET_END = b"</sheetData></worksheet>"
_SHEET = "xl/worksheets/sheet1.xml"


def _workbook(sheet: bytes, extra: dict[str, bytes] | None = None) -> bytes:
    """A minimal workbook whose one worksheet is ``sheet``, written last."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _RELS)
        archive.writestr("xl/workbook.xml", _WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        for name, content in (extra or {}).items():
            archive.writestr(name, content)
        archive.writestr(_SHEET, sheet)
    return buffer.getvalue()


def _deflated_repeat(prefix: bytes, block: bytes, times: int, suffix: bytes) -> tuple[bytes, int]:
    """A raw deflate stream of ``prefix + block * times + suffix`` and that expansion's CRC-32,
    without ever holding the expansion: after a full flush the compressor forgets what it saw,
    so each block compresses to the same bytes, which are repeated."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    start = compressor.compress(prefix) + compressor.flush(zlib.Z_FULL_FLUSH)
    once = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    assert compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH) == once
    end = compressor.compress(suffix) + compressor.flush()
    crc = zlib.crc32(prefix)
    for _ in range(times):
        crc = zlib.crc32(block, crc)
    return start + once * times + end, zlib.crc32(suffix, crc)


def _bomb(prefix: bytes, block: bytes, times: int, suffix: bytes) -> bytes:
    """A workbook whose worksheet expands to ``prefix + block * times + suffix``.

    zipfile stores the deflate stream as the sheet's content; the sheet's method, CRC and size
    are then set, in its local header and its central-directory entry, to those of the stream
    deflated, so the archive is a valid ZIP file that Python's zipfile would unpack in full."""
    stream, crc = _deflated_repeat(prefix, block, times, suffix)
    size = len(prefix) + len(block) * times + len(suffix)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, content in (
            ("[Content_Types].xml", _CONTENT_TYPES),
            ("_rels/.rels", _RELS),
            ("xl/workbook.xml", _WORKBOOK),
            ("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS),
            (_SHEET, stream),
        ):
            archive.writestr(name, content)
        local = archive.getinfo(_SHEET).header_offset
    data = bytearray(buffer.getvalue())
    central = data.rfind(b"PK\x01\x02")  # the sheet is the last entry of the directory
    for method, fields in ((local + 8, local + 14), (central + 10, central + 16)):
        data[method : method + 2] = struct.pack("<H", zipfile.ZIP_DEFLATED)
        data[fields : fields + 12] = struct.pack("<III", crc, len(stream), size)
    return bytes(data)


@pytest.fixture(scope="module")
def gigabyte_bomb() -> bytes:
    """A worksheet of a gibibyte of spaces between its header row and its end."""
    return _bomb(_SHEET_START + _HEADER_ROW, b" " * MEBIBYTE, 1024, _GOOD_ROW + _SHEET_END)


def test_the_bomb_is_a_valid_zip_of_a_gigabyte(gigabyte_bomb: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(gigabyte_bomb)) as archive:
        info = archive.getinfo(_SHEET)
        assert info.file_size == 1024 * MEBIBYTE + len(_SHEET_START + _HEADER_ROW) + len(
            _GOOD_ROW + _SHEET_END
        )
        with archive.open(info) as member:  # its start unpacks as the header
            assert member.read(len(_SHEET_START)) == _SHEET_START
    assert len(gigabyte_bomb) < 2 * MEBIBYTE


def test_a_gigabyte_bomb_is_refused_in_bounded_time_and_memory(gigabyte_bomb: bytes) -> None:
    _refused(_bounded(gigabyte_bomb), "expands to more than 256 MB")


def test_a_bomb_in_the_styles_is_refused() -> None:
    # Styles are read whole into a tree, so they are held to a few megabytes.
    styles = b'<?xml version="1.0"?><styleSheet>' + b"<x/>" * (3 * MEBIBYTE) + b"</styleSheet>"
    data = _workbook(_SHEET_START + _HEADER_ROW + _GOOD_ROW + _SHEET_END, {"xl/styles.xml": styles})
    _refused(_bounded(data), "parts besides the sheets")


def test_many_parts_that_together_expand_too_far_are_refused() -> None:
    zeros = b"\0" * (7 * MEBIBYTE)
    media = {f"xl/media/image{n}.bin": zeros for n in range(40)}
    data = _workbook(_SHEET_START + _HEADER_ROW + _GOOD_ROW + _SHEET_END, media)
    _refused(_bounded(data), "expands to more than 256 MB")


def test_a_zip_that_understates_a_members_size_is_refused() -> None:
    # Python's zipfile unpacks no more than the size the central directory states, and then
    # finds the checksum wrong: the sizes checked are the ones every later read is held to.
    good = _workbook(_SHEET_START + _HEADER_ROW + _GOOD_ROW + _SHEET_END)
    checked = read(good, HAVEN_COLUMNS)
    assert checked is not None
    assert checked.ok
    data = bytearray(good)
    central = data.rfind(b"PK\x01\x02")
    data[central + 24 : central + 28] = struct.pack("<I", 100)
    _refused(_bounded(bytes(data)), "damaged|could not be read")


def test_a_row_number_far_below_the_last_is_refused_quickly() -> None:
    far = b'<row r="2000000000"><c r="A2000000000"><v>2019</v></c></row>'
    data = _workbook(_SHEET_START + _HEADER_ROW + _GOOD_ROW + far + _SHEET_END)
    _refused(_bounded(data, traced=False), "beyond line 1048576")


def test_rows_padded_out_to_the_last_column_are_read_quickly() -> None:
    # Each row has one cell, in column XFD (16384), right of every header: openpyxl would pad
    # every row out to it, and every row would be looked at cell by cell.
    far = b"".join(
        b'<row r="%d"><c r="XFD%d"><v>1</v></c></row>' % (n, n) for n in range(3, 20_003)
    )
    data = _workbook(_SHEET_START + _HEADER_ROW + _GOOD_ROW + far + _SHEET_END)
    checked = _bounded(data, traced=False)
    assert isinstance(checked, Checked)
    assert checked.ok
    assert [row.line for row in checked.rows] == [2]  # cells right of the headers are not read


def test_an_entity_expansion_in_a_worksheet_is_refused() -> None:
    entities = b"".join(
        b'<!ENTITY l%d "%s">' % (n, (b"&l%d;" % (n - 1)) * 10 if n else b"lol") for n in range(10)
    )
    sheet = (
        b'<?xml version="1.0"?><!DOCTYPE worksheet ['
        + entities
        + b"]>"
        + _SHEET_START.split(b"?>", 1)[1]
        + _HEADER_ROW
        + b'<row r="2"><c r="A2" t="inlineStr"><is><t>&l9;</t></is></c></row>'
        + _SHEET_END
    )
    _refused(_bounded(_workbook(sheet)), "damaged|could not be read")


def test_the_fuzzed_headers_include_every_header_a_ready_mapping_reads() -> None:
    for mapping in MAPPINGS:
        assert {header for _, header in mapping.columns} <= set(_HEADERS)
    assert set(FIELDS) <= set(_HEADERS)
