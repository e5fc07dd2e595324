"""Checking rows: each row's cells become an incident (and its target) or problems that name the
line and the column, never what the cell holds."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from haven.domain.enums import DatePrecision, HostInvolvement, Tlp
from haven.errors import ValidationFailed
from haven.intake.imports.mapping import Mapping
from haven.intake.imports.sheets import cell_text, read_sheet
from haven.intake.imports.vocabularies import (
    country_code,
    host_involvement,
    profile_code,
    tactic_code,
)
from haven.registry.schemas import IncidentIn, Occurred, PersonIn, parse

TITLE_LENGTH = 300
NARRATIVE_LENGTH = 100_000
FIRST_YEAR = 1900
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SHOWN_LENGTH = 40


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
    sheet = read_sheet(data, mapping)
    labels = {name: sheet.headers[index] for name, index in sheet.fields}
    good: list[ImportRow] = []
    problems: list[Problem] = []
    for line, cells in sheet.rows:
        values = {
            name: cell_text(cell) for (name, _), cell in zip(sheet.fields, cells, strict=True)
        }
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
        codes: list[str] = []
        for part in parts:
            code = tactic_code(part)
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
        code = profile_code(value)
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
        found = host_involvement(value)
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
