"""Imports of incident spreadsheets (CSV and XLSX): read, check every row, then write them all or
nothing.

A :class:`Mapping` says which column feeds which field. :func:`check` reads the whole sheet and
returns the rows ready to import with a :class:`Problem` for *every* bad row; :func:`run_import`
writes the rows through one :class:`~haven.registry.writer.RegistryWriter` in the caller's
transaction, so the caller commits once and any error leaves nothing behind.

Decisions worth knowing (docs/import.md says the same for users):

- A Freedom House category in the tactic column (Assassination, Assault, Detention, Rendition,
  Unlawful deportation) becomes the *first* taxonomy tactic that carries that category:
  assassination → targeted-killing, assault → physical-assault, detention → arrest-misuse,
  rendition → abduction, unlawful deportation → forced-return.
- Host-state involvement takes Haven's words (none, complicit, active, unknown); "yes" means
  complicit (the host state was involved, which says less than that it acted itself), "no" means
  none, and an empty cell means unknown.
- A row's key is HMAC-SHA-256, under a key derived from the key file, over the organisation's id,
  the row's normalised values and its place among identical rows of the same file. Importing the
  same file again finds every key in ``imported_rows`` and adds nothing, while two identical rows
  of one file are two incidents. The key is keyed so that nobody holding only the database can
  confirm a guessed narrative against it.
- Problems name the line and the column and say what is wrong; they quote a cell only where it
  holds a country or a tactic, never narratives, sources or anything else that could name
  someone.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import re
import warnings
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pycountry
from openpyxl import load_workbook  # type: ignore[import-untyped]
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from haven.crypto.fields import FieldCipher
from haven.db.values import utcnow
from haven.domain.countries import check_country
from haven.domain.enums import DatePrecision, HostInvolvement, PersonRole, Tlp
from haven.domain.taxonomy import load_taxonomy
from haven.errors import HavenError, ValidationFailed
from haven.intake.models import ImportedRow
from haven.registry.schemas import IncidentIn, Occurred, PersonIn, parse
from haven.registry.writer import Actor, RegistryWriter

FIELDS: tuple[str, ...] = (
    "year",
    "date",
    "origin_state",
    "host_state",
    "tactic",
    "target_profile",
    "host_involvement",
    "sources",
    "title",
    "narrative",
)
MAX_ROWS = 100_000
TITLE_LENGTH = 300
NARRATIVE_LENGTH = 100_000
FIRST_YEAR = 1900
_XLSX_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # the old binary Excel format (.xls)
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SHOWN_LENGTH = 40

Progress = Callable[[int, int], None]


# -- mappings ---------------------------------------------------------------------------------


def _header_key(header: str) -> str:
    """Headers match case-insensitively, ignoring surrounding and repeated spaces."""
    return " ".join(header.split()).casefold()


@dataclass(frozen=True, slots=True)
class Mapping:
    """Which column header feeds which field. ``optional`` names fields whose column may be
    missing from a sheet (their cells then count as empty); any other column the mapping names
    must be in the sheet."""

    name: str
    columns: tuple[tuple[str, str], ...]
    optional: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        fields = [name for name, _ in self.columns]
        unknown = [name for name in fields if name not in FIELDS]
        if unknown:
            raise ValidationFailed(
                f"the mapping names unknown fields: {', '.join(map(repr, unknown))}",
                hint=f"the fields are: {', '.join(FIELDS)}",
            )
        if len(set(fields)) != len(fields):
            raise ValidationFailed("the mapping names a field twice")
        headers = [_header_key(header) for _, header in self.columns]
        if "" in headers:
            raise ValidationFailed("the mapping gives a field an empty column header")
        if len(set(headers)) != len(headers):
            raise ValidationFailed("the mapping feeds two fields from the same column")
        missing = [name for name in ("origin_state", "tactic") if name not in fields]
        if "year" not in fields and "date" not in fields:
            missing.append("year or date")
        if missing:
            raise ValidationFailed(
                f"the mapping must name a column for: {', '.join(missing)}",
                hint="origin_state, tactic and year (or date) are required",
            )

    @classmethod
    def of(
        cls, name: str, columns: dict[str, str], optional: frozenset[str] = frozenset()
    ) -> Mapping:
        return cls(name, tuple(columns.items()), optional)

    @classmethod
    def from_json(cls, text: str | bytes, name: str = "custom") -> Mapping:
        """A mapping from a JSON object ``{"field": "Column header", ...}``."""
        try:
            raw = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ValidationFailed(
                "the mapping file is not valid JSON",
                hint='write an object such as {"year": "Year", "origin_state": "From"}',
            ) from None
        if not isinstance(raw, dict) or not all(
            isinstance(key, str) and isinstance(value, str) for key, value in raw.items()
        ):
            raise ValidationFailed(
                "the mapping file must hold one JSON object of field names to column headers",
                hint='for example {"year": "Year", "origin_state": "From", "tactic": "What"}',
            )
        return cls.of(name, raw)

    def header(self, name: str) -> str | None:
        return dict(self.columns).get(name)

    def resolve(self, headers: Sequence[str]) -> dict[str, int]:
        """The position of each mapped field's column in ``headers``; refuses the sheet when a
        column the mapping needs is missing or appears twice."""
        positions: dict[str, list[int]] = {}
        for index, header in enumerate(headers):
            positions.setdefault(_header_key(header), []).append(index)
        found: dict[str, int] = {}
        missing: list[str] = []
        for name, header in self.columns:
            places = positions.get(_header_key(header), [])
            if len(places) > 1:
                raise ValidationFailed(
                    f'the sheet has the column "{header}" more than once',
                    hint="give each column a header of its own",
                )
            if places:
                found[name] = places[0]
            elif name not in self.optional:
                missing.append(f'"{header}" (for {name})')
        if missing:
            present = ", ".join(f'"{h}"' for h in headers[:20] if h) or "none"
            raise ValidationFailed(
                f"the sheet has no column {', '.join(missing)}",
                hint=f"its columns are: {present}; choose another mapping or rename the column",
            )
        lacking = [name for name in ("origin_state", "tactic") if name not in found]
        if "year" not in found and "date" not in found:
            lacking.append("year or date")
        if lacking:
            raise ValidationFailed(
                f"the sheet has no column for: {', '.join(lacking)}",
                hint=f"the {self.name} mapping reads the columns "
                + ", ".join(f'"{header}"' for _, header in self.columns),
            )
        return found


FREEDOM_HOUSE = Mapping.of(
    "Freedom House",
    {
        "year": "Year",
        "origin_state": "Origin Country",
        "host_state": "Host Country",
        "tactic": "Tactic",
        "target_profile": "Target Profile",
        "host_involvement": "Host Country Involvement",
        "sources": "Sources",
    },
)
# Headers equal the field names; only the required columns must be present.
HAVEN_COLUMNS = Mapping.of(
    "Haven columns",
    {name: name for name in FIELDS},
    optional=frozenset(FIELDS) - {"origin_state", "tactic"},
)
READY_MAPPINGS: dict[str, Mapping] = {"freedom-house": FREEDOM_HOUSE, "haven": HAVEN_COLUMNS}


# -- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sheet:
    """A sheet's header line and its non-empty data rows with their spreadsheet line numbers
    (the header is line 1)."""

    format: str
    headers: tuple[str, ...]
    rows: tuple[tuple[int, tuple[Any, ...]], ...]
    # Lines whose row has filled cells beyond the last named column (CSV only).
    overlong: frozenset[int] = frozenset()


def read_sheet(data: bytes) -> Sheet:
    """Read a CSV or XLSX file, recognised by its content, never by its name."""
    if data.startswith(_XLSX_MAGIC):
        return _read_xlsx(data)
    if data.startswith(_OLE_MAGIC):
        raise ValidationFailed(
            "this is an old binary Excel file (.xls), which Haven does not read",
            hint="save it as .xlsx or as CSV (UTF-8) and import that",
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed(
            "the file is neither an XLSX workbook nor a CSV file in UTF-8",
            hint="save the spreadsheet as .xlsx or as CSV (UTF-8) and import that",
        ) from None
    if "\x00" in text:
        raise ValidationFailed(
            "the file is neither an XLSX workbook nor a CSV file in UTF-8",
            hint="save the spreadsheet as .xlsx or as CSV (UTF-8) and import that",
        )
    return _read_csv(text)


def _delimiter(text: str) -> str:
    """Comma or semicolon, whichever splits the header line into more columns."""
    first = text.split("\n", 1)[0]
    by_comma = next(csv.reader([first], delimiter=","), [])
    by_semicolon = next(csv.reader([first], delimiter=";"), [])
    return ";" if len(by_semicolon) > len(by_comma) else ","


def _read_csv(text: str) -> Sheet:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    return _sheet("CSV", _csv_records(reader), check_width=True)


def _csv_records(reader: Iterator[list[str]]) -> Iterator[tuple[Any, ...]]:
    line = 0
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ValidationFailed(
                f"line {line + 1}: the CSV file is malformed ({exc})",
                hint="save the spreadsheet as CSV again, or as .xlsx",
            ) from None
        line += 1
        yield tuple(record)


def _read_xlsx(data: bytes) -> Sheet:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            is_workbook = "xl/workbook.xml" in archive.namelist()
    except (zipfile.BadZipFile, ValueError, OSError):
        is_workbook = False
    if not is_workbook:
        raise ValidationFailed(
            "the file is a ZIP archive but not an XLSX workbook",
            hint="save the spreadsheet as .xlsx or as CSV (UTF-8) and import that",
        )
    # openpyxl warns about styles and extensions other tools write; none of it matters here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:  # zipfile, XML and openpyxl's own errors alike
            raise ValidationFailed(
                "the XLSX workbook is damaged or not one Haven can read",
                hint=f"save it again as .xlsx in a spreadsheet program ({type(exc).__name__})",
            ) from None
        try:
            sheet = workbook.worksheets[0]
            sheet.reset_dimensions()  # trust the rows, not the size the file claims
            rows = sheet.iter_rows(values_only=True)
            return _sheet("XLSX", (tuple(row) for row in rows), check_width=False)
        except HavenError:
            raise
        except Exception as exc:
            raise ValidationFailed(
                "the XLSX workbook could not be read",
                hint=f"open it in a spreadsheet program and save it again ({type(exc).__name__})",
            ) from None
        finally:
            workbook.close()


def _is_empty(cell: Any) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _sheet(kind: str, records: Iterator[tuple[Any, ...]], *, check_width: bool) -> Sheet:
    header = next(records, None)
    if header is None or all(_is_empty(cell) for cell in header):
        raise ValidationFailed(
            "the first line of the sheet must hold the column headers",
            hint="put one header per column on line 1",
        )
    headers = [_cell_text(cell) or "" for cell in header]
    while headers and not headers[-1]:
        headers.pop()
    width = len(headers)
    rows: list[tuple[int, tuple[Any, ...]]] = []
    overlong: set[int] = set()
    for line, record in enumerate(records, start=2):
        if all(_is_empty(cell) for cell in record):
            continue
        if len(rows) >= MAX_ROWS:
            raise ValidationFailed(
                f"the sheet has more than {MAX_ROWS} rows", hint="split it into several files"
            )
        if check_width and any(not _is_empty(cell) for cell in record[width:]):
            overlong.add(line)
        cells = tuple(record[:width]) + (None,) * (width - len(record))
        rows.append((line, cells))
    if not rows:
        raise ValidationFailed("the sheet has no rows below its header line")
    return Sheet(kind, tuple(headers), tuple(rows), frozenset(overlong))


def _cell_text(cell: Any) -> str | None:
    """A cell as text, or None when it is empty; numbers and dates as a person would type them."""
    if cell is None:
        return None
    if isinstance(cell, bool):
        text = "yes" if cell else "no"
    elif isinstance(cell, float) and cell.is_integer():
        text = str(int(cell))
    elif isinstance(cell, datetime):
        text = cell.date().isoformat() if cell.time() == datetime.min.time() else cell.isoformat()
    elif isinstance(cell, date):
        text = cell.isoformat()
    else:
        text = str(cell)
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    return text or None


# -- vocabularies -----------------------------------------------------------------------------

# English short names that pycountry's lookup does not know (it knows "Iran", "Syria", "Laos").
COUNTRY_ALIASES: dict[str, str] = {
    "russia": "RU",
    "turkey": "TR",
    "ivory coast": "CI",
    "palestine": "PS",
    "uk": "GB",
    "great britain": "GB",
    "britain": "GB",
    "uae": "AE",
    "brunei": "BN",
    "cape verde": "CV",
    "burma": "MM",
    "dr congo": "CD",
    "drc": "CD",
    "democratic republic of the congo": "CD",
    "democratic republic of congo": "CD",
    "congo-kinshasa": "CD",
    "congo-brazzaville": "CG",
    "the gambia": "GM",
    "swaziland": "SZ",
    "macedonia": "MK",
    "east timor": "TL",
    "vatican": "VA",
    "micronesia": "FM",
    "the bahamas": "BS",
    "us": "US",
    "united states of america": "US",
}


def country_code(value: str) -> str | None:
    """The ISO 3166-1 alpha-2 code of an alpha-2 or alpha-3 code or an English country name."""
    cleaned = " ".join(value.split())
    alias = COUNTRY_ALIASES.get(cleaned.casefold())
    if alias is not None:
        return alias
    if len(cleaned) == 2 and cleaned.isalpha():
        try:
            return check_country(cleaned)
        except ValidationFailed:
            return None
    if not cleaned or cleaned.isdigit():
        return None
    try:
        found = pycountry.countries.lookup(cleaned)
    except LookupError:
        return None
    return check_country(str(found.alpha_2))


@cache
def _tactic_names() -> dict[str, str]:
    """Tactic codes, English labels and Freedom House categories (codes and labels), folded,
    to the taxonomy tactic code. A Freedom House category goes to the first tactic carrying it."""
    taxonomy = load_taxonomy()
    names: dict[str, str] = {}
    for category in taxonomy.freedom_house.terms:
        first = next(t for t in taxonomy.tactics if t.freedom_house == category.code)
        names[category.code.casefold()] = first.code
        names[category.label.casefold()] = first.code
    for tactic in taxonomy.tactics:  # a tactic's own code and label win over a category
        names[tactic.code.casefold()] = tactic.code
        names[tactic.label.casefold()] = tactic.code
    return names


@cache
def _profile_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for term in load_taxonomy().target_profiles.terms:
        names[term.code.casefold()] = term.code
        names[term.label.casefold()] = term.code
    return names


_INVOLVEMENT: dict[str, HostInvolvement] = {
    **{item.value: item for item in HostInvolvement},
    "yes": HostInvolvement.COMPLICIT,
    "y": HostInvolvement.COMPLICIT,
    "no": HostInvolvement.NONE,
    "n": HostInvolvement.NONE,
}


def _fold(value: str) -> str:
    return " ".join(value.split()).casefold()


# -- checking ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    """A bad row: its spreadsheet line and what is wrong, never what it holds."""

    line: int
    reason: str

    def describe(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(frozen=True, slots=True)
class ImportRow:
    """A good row: the incident, the target (when a profile was given) and what identifies the
    row for re-imports (its normalised values and its place among identical rows)."""

    line: int
    incident: IncidentIn
    target: PersonIn | None
    values: str
    occurrence: int = 0


@dataclass(frozen=True, slots=True)
class Checked:
    format: str
    mapping: str
    lines: int
    rows: tuple[ImportRow, ...]
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def bad_lines(self) -> int:
        return len({problem.line for problem in self.problems})

    def summary(self) -> str:
        if self.ok:
            return f"all {self.lines} rows are good"
        count = len(self.problems)
        return (
            f"{count} problem{'s' if count != 1 else ''} in {self.bad_lines} of "
            f"{self.lines} rows; nothing was imported"
        )


def check(data: bytes, mapping: Mapping, *, tlp: Tlp = Tlp.AMBER) -> Checked:
    """Read ``data`` and check every row; the result lists every bad row, not only the first.

    A file that cannot be read, or lacks a column the mapping needs, is refused with
    :class:`~haven.errors.ValidationFailed` before any row is read."""
    sheet = read_sheet(data)
    positions = mapping.resolve(sheet.headers)
    labels = {name: sheet.headers[index] for name, index in positions.items()}
    good: list[ImportRow] = []
    problems: list[Problem] = []
    for line, cells in sheet.rows:
        values = {name: _cell_text(cells[index]) for name, index in positions.items()}
        row = _Row(line, labels, values, tlp)
        built = row.build()
        if line in sheet.overlong:
            row.problem(
                "the row has more cells than the header line has columns "
                "(a delimiter inside a cell that is not in quotes?)"
            )
        if row.problems:
            problems.extend(row.problems)
        elif built is not None:
            good.append(built)
    seen: Counter[str] = Counter()
    numbered: list[ImportRow] = []
    for item in good:
        numbered.append(
            ImportRow(item.line, item.incident, item.target, item.values, seen[item.values])
        )
        seen[item.values] += 1
    return Checked(sheet.format, mapping.name, len(sheet.rows), tuple(numbered), tuple(problems))


def _shown(value: str) -> str:
    """A country or tactic as a problem may quote it: short and printable, or not at all."""
    if len(value) <= _SHOWN_LENGTH and value.isprintable():
        return f' "{value}"'
    return ""


@dataclass
class _Row:
    line: int
    labels: dict[str, str]
    values: dict[str, str | None]
    tlp: Tlp
    problems: list[Problem] = field(default_factory=list)

    def problem(self, reason: str) -> None:
        self.problems.append(Problem(self.line, reason))

    def column(self, name: str) -> str:
        return self.labels.get(name, name)

    def build(self) -> ImportRow | None:
        when = self._when()
        origin = self._country("origin_state", required=True)
        host = self._country("host_state", required=False)
        tactics = self._tactics()
        profile = self._profile()
        involvement = self._involvement()
        title = self._text("title", TITLE_LENGTH)
        narrative = self._text("narrative", NARRATIVE_LENGTH)
        sources = self._text("sources", NARRATIVE_LENGTH)
        parts = [part for part in (narrative, f"Sources: {sources}" if sources else None) if part]
        full_narrative = "\n\n".join(parts)
        if len(full_narrative) > NARRATIVE_LENGTH:
            self.problem(
                f"{self.column('narrative')} and {self.column('sources')} together are longer "
                f"than {NARRATIVE_LENGTH} characters"
            )
        if self.problems or when is None or origin is None or not tactics:
            return None
        occurred, year = when
        generated = f"Imported: {year} {origin}" + (f"→{host}" if host else "")
        try:
            incident = parse(
                IncidentIn,
                {
                    "title": title or generated,
                    "narrative": full_narrative,
                    "occurred": occurred,
                    "origin_state": origin,
                    "host_state": host,
                    "tactics": tactics,
                    "host_involvement": involvement,
                    "tlp": self.tlp,
                },
            )
            target = (
                None if profile is None else parse(PersonIn, {"profile": profile, "tlp": self.tlp})
            )
        except ValidationFailed as refusal:  # the checks above should leave nothing for this
            self.problem(refusal.one_line())
            return None
        normalised = {
            "year": year,
            "date": occurred.start.isoformat() if occurred.precision is DatePrecision.DAY else None,
            "origin_state": origin,
            "host_state": host,
            "tactics": sorted(tactics),
            "target_profile": profile,
            "host_involvement": involvement.value,
            "title": title,
            "narrative": narrative,
            "sources": sources,
        }
        values = json.dumps(normalised, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return ImportRow(self.line, incident, target, values)

    def _when(self) -> tuple[Occurred, int] | None:
        before = len(self.problems)
        year, day = self._year(), self._day()
        if len(self.problems) > before:
            return None
        if day is not None:
            if year is not None and year != day.year:
                self.problem(f"{self.column('year')} and {self.column('date')} disagree")
                return None
            return Occurred(start=day, precision=DatePrecision.DAY), day.year
        if year is None:
            wanted = " or ".join(
                self.column(name) for name in ("year", "date") if name in self.labels
            )
            self.problem(f"{wanted}: empty; the year the incident happened is required")
            return None
        return Occurred(start=date(year, 1, 1), precision=DatePrecision.YEAR), year

    def _year(self) -> int | None:
        raw = self.values.get("year")
        if raw is None:
            return None
        this_year = date.today().year
        if re.fullmatch(r"\d{4}", raw) and FIRST_YEAR <= int(raw) <= this_year:
            return int(raw)
        self.problem(
            f"{self.column('year')}: not a year (four digits, {FIRST_YEAR} to {this_year})"
        )
        return None

    def _day(self) -> date | None:
        raw = self.values.get("date")
        if raw is None:
            return None
        try:
            day = date.fromisoformat(raw) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw) else None
        except ValueError:
            day = None
        if day is None:
            self.problem(f"{self.column('date')}: not a date (write it as YYYY-MM-DD)")
        elif not date(FIRST_YEAR, 1, 1) <= day <= date.today():
            self.problem(
                f"{self.column('date')}: the date lies before {FIRST_YEAR} or in the future"
            )
            day = None
        return day

    def _country(self, name: str, *, required: bool) -> str | None:
        value = self.values.get(name)
        if value is None:
            if required:
                self.problem(f"{self.column(name)}: empty; the origin state is required")
            return None
        code = country_code(value)
        if code is None:
            self.problem(
                f"{self.column(name)}: unknown country{_shown(value)} "
                "(use an ISO 3166-1 code such as TR or an English name such as Turkey)"
            )
        return code

    def _tactics(self) -> list[str]:
        value = self.values.get("tactic")
        parts = [part.strip() for part in (value or "").split(";") if part.strip()]
        if not parts:
            self.problem(f"{self.column('tactic')}: empty; at least one tactic is required")
            return []
        names = _tactic_names()
        codes: list[str] = []
        for part in parts:
            code = names.get(_fold(part))
            if code is None:
                self.problem(
                    f"{self.column('tactic')}: unknown tactic{_shown(part)} (use a taxonomy "
                    "tactic code or label, or a Freedom House category such as Detention)"
                )
            elif code not in codes:
                codes.append(code)
        return codes

    def _profile(self) -> str | None:
        value = self.values.get("target_profile")
        if value is None:
            return None
        code = _profile_names().get(_fold(value))
        if code is None:
            self.problem(
                f"{self.column('target_profile')}: unknown target profile (use a taxonomy "
                "code or label such as activist, journalist or Human-rights defender)"
            )
        return code

    def _involvement(self) -> HostInvolvement:
        value = self.values.get("host_involvement")
        if value is None:
            return HostInvolvement.UNKNOWN
        found = _INVOLVEMENT.get(_fold(value))
        if found is None:
            self.problem(
                f"{self.column('host_involvement')}: unknown host-state involvement (use none, "
                "complicit, active or unknown; yes means complicit and no means none)"
            )
            return HostInvolvement.UNKNOWN
        return found

    def _text(self, name: str, limit: int) -> str | None:
        value = self.values.get(name)
        if value is None:
            return None
        if _CONTROLS.search(value):
            self.problem(f"{self.column(name)}: holds control characters")
            return None
        if len(value) > limit:
            self.problem(f"{self.column(name)}: longer than {limit} characters")
            return None
        return value


# -- importing --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportCounts:
    imported: int
    already: int

    def describe(self) -> str:
        noun = "incident" if self.imported == 1 else "incidents"
        return f"imported {self.imported} {noun} ({self.already} already imported)"


def row_key(cipher: FieldCipher, organisation_id: str, row: ImportRow) -> str:
    """What ``imported_rows`` remembers a row by (64 hex digits): keyed, so that the key of a
    guessed row cannot be computed without the key file."""
    payload = json.dumps(
        [organisation_id, row.values, row.occurrence], ensure_ascii=False, separators=(",", ":")
    )
    key = cipher.keyring.derived_key("imported row")
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()


def _known_keys(session: Session, organisation_id: str, keys: Sequence[str]) -> set[str]:
    known: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        known.update(
            session.scalars(
                select(ImportedRow.row_key).where(
                    ImportedRow.contributor_id == organisation_id, ImportedRow.row_key.in_(chunk)
                )
            )
        )
    return known


def already_imported(
    session: Session, cipher: FieldCipher, organisation_id: str, rows: Sequence[ImportRow]
) -> int:
    """How many of ``rows`` this organisation imported before (for a dry run)."""
    keys = [row_key(cipher, organisation_id, row) for row in rows]
    return len(_known_keys(session, organisation_id, keys))


def run_import(
    session: Session,
    cipher: FieldCipher,
    actor: Actor,
    rows: Sequence[ImportRow],
    *,
    progress: Progress | None = None,
) -> ImportCounts:
    """Write ``rows`` in the caller's transaction, skipping those the organisation imported
    before; the caller commits once, and any error leaves nothing written."""
    organisation_id = actor.contributor_id
    keys = [row_key(cipher, organisation_id, row) for row in rows]
    known = _known_keys(session, organisation_id, keys)
    writer = RegistryWriter(session, cipher, actor)
    imported: list[tuple[str, str]] = []
    total = len(rows)
    for done, (row, key) in enumerate(zip(rows, keys, strict=True), start=1):
        if key not in known:
            incident_id = writer.add_incident(row.incident)
            if row.target is not None:
                person_id = writer.add_person(row.target)
                writer.link_person(incident_id, person_id, PersonRole.TARGET)
            imported.append((key, incident_id))
        if progress is not None:
            progress(done, total)
    writer.flush()
    if imported:
        now = utcnow()
        session.execute(
            insert(ImportedRow),
            [
                {
                    "contributor_id": organisation_id,
                    "row_key": key,
                    "incident_id": incident_id,
                    "imported_at": now,
                }
                for key, incident_id in imported
            ],
        )
    return ImportCounts(imported=len(imported), already=total - len(imported))


def load_mapping(spec: str) -> Mapping:
    """A ready mapping by name (freedom-house, haven) or a JSON mapping file's path."""
    ready = READY_MAPPINGS.get(spec.strip().casefold())
    if ready is not None:
        return ready
    return Mapping.from_json(Path(spec).read_bytes(), name=spec)
