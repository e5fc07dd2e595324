"""Reading a sheet: a CSV or XLSX file, recognised by its content, as a header line and the
non-empty rows below it, each cell as text a person would have typed.

Every cost is bounded: an XLSX workbook (a ZIP archive) is measured by the
sizes its central directory states, which Python's zipfile holds every later read to, before
openpyxl opens it; a sheet may have at most MAX_COLUMNS columns and MAX_LINES lines; and a row
keeps only the cells of the columns the mapping reads, so a file whose rows are padded out to
thousands of empty columns costs no more memory than one of ten columns.
"""

from __future__ import annotations

import csv
import io
import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from openpyxl import load_workbook  # type: ignore[import-untyped]

from haven.errors import HavenError, ValidationFailed
from haven.intake.imports.mapping import Mapping

MAX_ROWS = 100_000
MAX_COLUMNS = 1_000
MAX_LINES = 1_048_576  # the last row a spreadsheet program has
_MEBIBYTE = 1024 * 1024
# An XLSX workbook unpacked: all its parts together, and each part openpyxl reads whole (styles,
# the workbook, relationships; Excel keeps at most 64,000 cell formats, a few megabytes of
# styles). Worksheets and the shared strings may be larger, up to the total.
MAX_EXPANDED_BYTES = 256 * _MEBIBYTE
MAX_PART_BYTES = 8 * _MEBIBYTE
MAX_PARTS = 10_000
_LARGE_PARTS = ("xl/worksheets/", "xl/sharedStrings.xml")
_XLSX_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # the old binary Excel format (.xls)


@dataclass(frozen=True, slots=True)
class Sheet:
    """A sheet's header line, the position of each mapped field's column in it, and its
    non-empty data rows with their spreadsheet line numbers (the header is line 1). A row holds
    the cells of the mapped columns only, in the order of ``fields``."""

    format: str
    headers: tuple[str, ...]
    fields: tuple[tuple[str, int], ...]
    rows: tuple[tuple[int, tuple[Any, ...]], ...]
    # Lines whose row has filled cells beyond the last named column (CSV only).
    overlong: frozenset[int] = frozenset()


def read_sheet(data: bytes, mapping: Mapping) -> Sheet:
    """Read a CSV or XLSX file, recognised by its content, never by its name; refuses it before
    any row is read when it lacks a column ``mapping`` needs."""
    if data.startswith(_XLSX_MAGIC):
        return _read_xlsx(data, mapping)
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
    return _read_csv(text, mapping)


def _header_width(text: str, delimiter: str) -> int:
    """How many columns the header line has when split by ``delimiter`` (read as the file will
    be read, so a quoted line break or a lone carriage return ends nothing early)."""
    try:
        return len(next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), []))
    except csv.Error:
        return 0  # the reader that follows says where the file is malformed


def _delimiter(text: str) -> str:
    """Comma or semicolon, whichever splits the header line into more columns."""
    return ";" if _header_width(text, ";") > _header_width(text, ",") else ","


def _read_csv(text: str, mapping: Mapping) -> Sheet:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    records = _csv_records(reader)
    header = next(records, None)
    return _sheet("CSV", header, lambda _width: records, mapping, check_width=True)


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


def _read_xlsx(data: bytes, mapping: Mapping) -> Sheet:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = archive.infolist()
    except Exception:  # a damaged archive raises more than BadZipFile (NotImplementedError...)
        parts = []
    if not any(part.filename == "xl/workbook.xml" for part in parts):
        raise ValidationFailed(
            "the file is a ZIP archive but not an XLSX workbook",
            hint="save the spreadsheet as .xlsx or as CSV (UTF-8) and import that",
        )
    _check_expansion(parts)
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
            first = sheet.iter_rows(max_row=1, max_col=MAX_COLUMNS + 1, values_only=True)
            header = next(first, None)
            first.close()

            # openpyxl pads a row out to its last cell; held to the header's width, a row
            # whose last cell is in column XFD costs no more than one of ten columns.
            def below(width: int) -> Iterator[tuple[Any, ...]]:
                rows: Iterator[tuple[Any, ...]] = sheet.iter_rows(
                    min_row=2, max_col=width, values_only=True
                )
                return rows

            return _sheet("XLSX", header, below, mapping, check_width=False)
        except HavenError:
            raise
        except Exception as exc:
            raise ValidationFailed(
                "the XLSX workbook could not be read",
                hint=f"open it in a spreadsheet program and save it again ({type(exc).__name__})",
            ) from None
        finally:
            workbook.close()


def _check_expansion(parts: list[zipfile.ZipInfo]) -> None:
    """Refuse a workbook that would unpack to more than the limits, before anything is
    unpacked."""
    if len(parts) > MAX_PARTS:
        raise ValidationFailed(
            f"the XLSX workbook has more than {MAX_PARTS} parts",
            hint="save the sheet alone as .xlsx or as CSV (UTF-8) and import that",
        )
    too_large = any(
        part.file_size > MAX_PART_BYTES and not part.filename.startswith(_LARGE_PARTS)
        for part in parts
    )
    if too_large or sum(part.file_size for part in parts) > MAX_EXPANDED_BYTES:
        raise ValidationFailed(
            f"the XLSX workbook expands to more than {MAX_EXPANDED_BYTES // _MEBIBYTE} MB "
            f"when unpacked, or one of its parts besides the sheets to more than "
            f"{MAX_PART_BYTES // _MEBIBYTE} MB",
            hint="save the sheet alone as .xlsx or as CSV (UTF-8) and import that",
        )


def _is_empty(cell: Any) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _is_blank(cells: tuple[Any, ...]) -> bool:
    """Every cell is empty. A spreadsheet row padded to its last column is mostly None, counted
    here without a Python step per cell; what is left is checked once per distinct value."""
    if cells.count(None) == len(cells):
        return True
    try:
        distinct: Iterable[Any] = set(cells)
    except TypeError:  # a value that cannot be hashed: look at every cell
        distinct = cells
    return all(_is_empty(cell) for cell in distinct)


def _headers(header: tuple[Any, ...] | None) -> tuple[str, ...]:
    if header is None or _is_blank(header):
        raise ValidationFailed(
            "the first line of the sheet must hold the column headers",
            hint="put one header per column on line 1",
        )
    if len(header) > MAX_COLUMNS and not _is_blank(header[MAX_COLUMNS:]):
        raise ValidationFailed(
            f"the header line has more than {MAX_COLUMNS} columns",
            hint="remove the columns the import does not read, or save the sheet again",
        )
    headers = [cell_text(cell) or "" for cell in header[:MAX_COLUMNS]]
    while headers and not headers[-1]:
        headers.pop()
    return tuple(headers)


def _sheet(
    kind: str,
    header: tuple[Any, ...] | None,
    below: Callable[[int], Iterator[tuple[Any, ...]]],
    mapping: Mapping,
    *,
    check_width: bool,
) -> Sheet:
    """The sheet of a header line and the records ``below(width)`` gives from line 2 on."""
    headers = _headers(header)
    fields = tuple(mapping.resolve(headers).items())
    width = len(headers)
    rows: list[tuple[int, tuple[Any, ...]]] = []
    overlong: set[int] = set()
    for line, record in enumerate(below(width), start=2):
        if line > MAX_LINES:
            raise ValidationFailed(
                f"the sheet goes on beyond line {MAX_LINES} (more lines than a spreadsheet "
                "program keeps)",
                hint="split it into several files",
            )
        cells = record[:width]
        filled_beyond = len(record) > width and not _is_blank(record[width:])
        if not filled_beyond and _is_blank(cells):
            continue
        if len(rows) >= MAX_ROWS:
            raise ValidationFailed(
                f"the sheet has more than {MAX_ROWS} rows", hint="split it into several files"
            )
        if check_width and filled_beyond:
            overlong.add(line)
        rows.append((line, tuple(cells[i] if i < len(cells) else None for _, i in fields)))
    if not rows:
        raise ValidationFailed("the sheet has no rows below its header line")
    return Sheet(kind, headers, fields, tuple(rows), frozenset(overlong))


def cell_text(cell: Any) -> str | None:
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
