"""Reading a sheet: a CSV or XLSX file, recognised by its content, as a header line and the
non-empty rows below it, each cell as text a person would have typed."""

from __future__ import annotations

import csv
import io
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from openpyxl import load_workbook  # type: ignore[import-untyped]

from haven.errors import HavenError, ValidationFailed

MAX_ROWS = 100_000
_XLSX_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # the old binary Excel format (.xls)


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
    headers = [cell_text(cell) or "" for cell in header]
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
