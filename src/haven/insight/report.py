"""The annual report: one year's figures as a self-contained HTML document and a PDF.

Two views, as in ``haven stats``:

- the open view (the default) is built from the latest release of open statistics
  (:mod:`haven.insight.releases`), which have no filters. Tables with a year dimension
  are cut to the year's published rows, which reveals nothing the open tables do not; every
  other table covers the whole period, and the report says so beside it;
- the organisation view counts what an analyst of one contributing organisation may count, for
  the year only. It is an internal document: counts are not suppressed, and it is marked
  TLP:AMBER.

Every chart is the SVG of :func:`haven.insight.charts.chart_svg`, inlined, beside an accessible
data table of the same :class:`~haven.insight.tables.Table`. The HTML has no external resources
and the PDF is rendered from it by WeasyPrint, which is given no way to fetch anything.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from sqlalchemy.orm import Session

from haven.access.policy import Reader
from haven.errors import ConfigurationError
from haven.insight.charts import chart_svg
from haven.insight.figures import (
    TOP_N,
    Concentration,
    Filters,
    Presentation,
    Response,
    figures,
    labels,
    response,
)
from haven.insight.open import OpenFigures, methods, release_note
from haven.insight.specs import DIMENSIONS, OPEN_STATISTICS, STATISTICS, one_way
from haven.insight.tables import Table

__all__ = [
    "AMBER_MARKING",
    "NO_REFERRALS",
    "AnnualReport",
    "Edition",
    "ReportTable",
    "Written",
    "concentration_dict",
    "open_report",
    "open_response",
    "organisation_report",
    "render_html",
    "response_dict",
    "write_report",
]

TEMPLATE = "annual_report.html"
TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "web" / "templates"
AMBER_MARKING = "TLP:AMBER — internal"
CHART_LIMIT = 20
WHOLE_PERIOD = "all years"
NO_REFERRALS = "No referrals yet: response times appear once cases are referred."

_ENVIRONMENT = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True, slots=True)
class ReportTable:
    """One table of the report, what period it covers, and its chart (SVG from chart_svg)."""

    table: Table
    scope: str
    chart: str

    @property
    def chart_markup(self) -> Markup:
        # Safe to mark: the SVG comes from chart_svg, which escapes every label it writes.
        return Markup(self.chart)  # noqa: S704


@dataclass(frozen=True, slots=True)
class AnnualReport:
    year: int
    view: Literal["open", "organisation"]
    organisation: str | None
    period: str
    total: int | None  # incidents that began in the year; None when withheld
    whole_total: int | None  # open view: all years together
    concentration: Concentration | None
    concentration_scope: str
    tables: tuple[ReportTable, ...]
    left_out: str
    response: tuple[Response, ...]
    response_note: str
    methods: tuple[str, ...]
    marking: str | None
    generated: date

    @property
    def title(self) -> str:
        return f"Transnational repression recorded in Haven, {self.year}"

    @property
    def top_states(self) -> str:
        """The top origin states with their counts, as a phrase."""
        top = concentration_dict(self.concentration)
        if top is None:
            return ""
        return ", ".join(f"{s['origin_label']} {s['count']:,}" for s in top["states"])

    @property
    def response_rows(self) -> list[dict[str, str]]:
        return [_response_cells(r) for r in self.response]


@dataclass(frozen=True, slots=True)
class Edition:
    """Which annual report: the year it covers, how many origin states its concentration figure
    counts, and the day it is dated (today when not given)."""

    year: int
    top_n: int = TOP_N
    today: date | None = None

    def __post_init__(self) -> None:
        Filters(year_from=self.year, year_to=self.year)  # refuses a year out of range

    @property
    def filters(self) -> Filters:
        return Filters(year_from=self.year, year_to=self.year)

    @property
    def dated(self) -> date:
        return self.today or datetime.now(UTC).date()


@dataclass(frozen=True, slots=True)
class Written:
    html: Path
    pdf: Path
    pages: int


# -- building -----------------------------------------------------------------------------------


def _year_only(table: Table, year: int) -> Table:
    """The table cut to the year's rows; a two-way table by year loses its year dimension."""
    position = table.dimensions.index("year")
    code = str(year)
    rows = tuple((key, n) for key, n in table.rows if key[position] == code)
    if len(table.dimensions) == 1:
        return dataclasses.replace(table, rows=rows, total=None)
    other = one_way(table.dimensions[1 - position])
    return dataclasses.replace(
        table,
        title=f"{other.title}, {year}",
        dimensions=other.dimensions,
        rows=tuple(((key[1 - position],), n) for key, n in rows),
        total=None,
        chart=other.chart,
    )


def _report_table(table: Table, scope: str) -> ReportTable:
    return ReportTable(table, scope, chart_svg(table, limit=CHART_LIMIT))


def open_response(session: Session, *, threshold: int) -> tuple[tuple[Response, ...], str]:
    """Response times for open statistics, and the sentence that goes with them: referrals of
    incidents open statistics count (verified ones only), over the whole period, for member
    states with at least ``threshold`` referrals only, and only where the share overdue gives
    away no count below it (the overdue and the timely referrals are each none or at least
    ``threshold``)."""

    def safe(count: int) -> bool:
        return count == 0 or count >= threshold

    answers = response(session, Reader.public("open"), Filters(), verified_only=True)
    shown = tuple(
        answer
        for answer in answers
        if answer.referrals >= threshold
        and safe(answer.overdue)
        and safe(answer.referrals - answer.overdue)
    )
    if shown:
        note = (
            f"All years. Only member states with at least {threshold} referrals of incidents "
            "counted in open statistics are shown, and only where the share overdue reveals no "
            f"count below {threshold}."
        )
    elif answers:
        note = (
            f"Response times are withheld: no member state has at least {threshold} referrals "
            "of incidents counted in open statistics, with overdue and timely ones each none or "
            f"at least {threshold}."
        )
    else:
        note = NO_REFERRALS
    return shown, note


def open_report(session: Session, edition: Edition, published: OpenFigures) -> AnnualReport:
    """The open view of a year from a release of open statistics (``published``): its
    tables, cut to the year where they have one."""
    year = edition.year
    threshold = published.threshold
    year_rows = {key[0]: n for key, n in published.tables["year"].rows}
    by_year = [s for s in OPEN_STATISTICS if "year" in s.dimensions]
    tables = [
        _report_table(_year_only(published.tables[s.name], year), str(year))
        for s in by_year
        if s.dimensions != ("year",)  # one row: the headline total
    ]
    tables += [
        _report_table(published.tables[s.name], WHOLE_PERIOD)
        for s in OPEN_STATISTICS
        if "year" not in s.dimensions
    ]
    answers, note = open_response(session, threshold=threshold)
    return AnnualReport(
        year=year,
        view="open",
        organisation=None,
        period=(
            f"Incidents that began in {year} where a table is broken down by year; every other "
            "table covers all years recorded, because open statistics are a fixed set of tables "
            "over the whole period with no filters."
        ),
        total=year_rows.get(str(year)),
        whole_total=published.total,
        concentration=published.concentration,
        concentration_scope=WHOLE_PERIOD,
        tables=tuple(tables),
        left_out=(
            "The table by year is not repeated: for one year it is the total above. Tables "
            "marked “all years” are not broken down by year in open statistics."
        ),
        response=answers,
        response_note=note,
        methods=(*methods(threshold, published.rounding), release_note(published)),
        marking=None,
        generated=edition.dated,
    )


INTERNAL_METHODS = (
    "This is an internal report, not for publication. It counts the incidents that an analyst "
    "of {organisation} may count: incidents labelled TLP:CLEAR or TLP:GREEN, the "
    "organisation's own TLP:AMBER and TLP:AMBER+STRICT records, TLP:AMBER records shared with "
    "its sharing groups, and cases referred to it; TLP:RED records only for the people they "
    "name, so none here. A person's consent statement is respected: "
    "incidents about a person who did not allow this organisation to see them are left out.",
    "What is counted: incidents that began in {year} (by the start of the incident), in the "
    "state where they happened (the host state); origin is the state believed responsible. "
    "What is not counted: incidents this organisation may not read, incidents not yet "
    "recorded, and anything about who the people are.",
    "Tactics and PACE methods overlap: an incident with several tactics counts once under "
    "each, so those tables have no total. Targets by profile count each target of an incident "
    "once.",
    "Small counts are not suppressed or rounded: the counts are exact, and some may be small "
    "enough to point to a person or a case. Share this report only under its label, "
    "TLP:AMBER, with people who need it, and do not publish it; open statistics are the "
    "figures made for publication.",
)


def organisation_report(
    session: Session, reader: Reader, organisation: str, edition: Edition
) -> AnnualReport:
    """The year as an analyst of one organisation counts it (internal, TLP:AMBER)."""
    year = edition.year
    presentation = Presentation(top_n=edition.top_n)
    found = figures(session, reader, edition.filters, presentation=presentation)
    tables = [
        _report_table(found.tables[s.name], str(year))
        for s in STATISTICS
        if "year" not in s.dimensions
    ]
    return AnnualReport(
        year=year,
        view="organisation",
        organisation=organisation,
        period=f"Incidents that began from 1 January to 31 December {year}.",
        total=found.total,
        whole_total=None,
        concentration=found.concentration,
        concentration_scope=str(year),
        tables=tuple(tables),
        left_out=(
            "The tables by year are not repeated: for one year they are the total above and the "
            "table by tactic."
        ),
        response=found.response,
        response_note=(
            f"Referrals of cases about incidents that began in {year}."
            if found.response
            else NO_REFERRALS
        ),
        methods=tuple(m.format(organisation=organisation, year=year) for m in INTERNAL_METHODS),
        marking=AMBER_MARKING,
        generated=edition.dated,
    )


# -- data for the terminal, JSON and the template -----------------------------------------------


def concentration_dict(top: Concentration | None) -> dict[str, Any] | None:
    if top is None:
        return None
    names = labels("origin", (state for state, _ in top.states))
    return {
        "n": top.n,
        "states": [
            {"origin": state, "origin_label": names[state], "count": n} for state, n in top.states
        ],
        "incidents": top.incidents,
        "total": top.total,
        "share": top.share,
        "tied": top.tied,
    }


def response_dict(answer: Response, *, counts: bool = True) -> dict[str, Any]:
    """One member state's response times; without ``counts`` (open statistics) only the
    referrals (at least the threshold) and the times and share, not the smaller counts."""
    data = {
        "member_state": answer.member_state,
        "member_state_label": labels("member_state", [answer.member_state])[answer.member_state],
        "referrals": answer.referrals,
        "acknowledged": answer.acknowledged,
        "ack_median_hours": answer.ack_median_hours,
        "ack_p90_hours": answer.ack_p90_hours,
        "actions": answer.actions,
        "action_median_days": answer.action_median_days,
        "action_p90_days": answer.action_p90_days,
        "overdue": answer.overdue,
        "overdue_share": answer.overdue_share,
    }
    if not counts:
        for key in ("acknowledged", "actions", "overdue"):
            del data[key]
    return data


def number(value: float | None, unit: str = "") -> str:
    """A measured value for people to read; a dash when there is none."""
    if value is None:
        return "—"
    return f"{value:,.1f}{unit}"


def _response_cells(answer: Response) -> dict[str, str]:
    return {
        "member_state": labels("member_state", [answer.member_state])[answer.member_state],
        "referrals": f"{answer.referrals:,}",
        "ack_median": number(answer.ack_median_hours),
        "ack_p90": number(answer.ack_p90_hours),
        "action_median": number(answer.action_median_days),
        "action_p90": number(answer.action_p90_days),
        "overdue": f"{answer.overdue_share:.0%}",
    }


# -- output -------------------------------------------------------------------------------------


def render_html(report: AnnualReport) -> str:
    """The report as one HTML document with inline CSS and SVG."""
    return _ENVIRONMENT.get_template(TEMPLATE).render(
        report=report, share=_share, dimension_name=_dimension_name
    )


def _share(top: Concentration) -> str:
    return "—" if top.share is None else f"{top.share:.1%}"


def _dimension_name(dimension: str) -> str:
    return DIMENSIONS[dimension].heading


def _refuse_fetch(url: str, *_args: object, **_kwargs: object) -> dict[str, Any]:
    raise ValueError(f"the report fetches nothing, not {url}")


def _no_fetching() -> Any:
    """A URL fetcher that fetches nothing: the report is self-contained, and a label that
    somehow became a URL must not make the renderer reach out."""
    try:
        from weasyprint.urls import URLFetcher  # type: ignore[import-untyped]  # noqa: PLC0415
    except ImportError:  # pragma: no cover - WeasyPrint before URLFetcher took plain callables
        return _refuse_fetch
    return URLFetcher(allowed_protocols=())


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_report(report: AnnualReport, directory: Path) -> Written:
    """Write ``haven-report-YEAR.html`` and ``.pdf`` into ``directory``, each atomically."""
    html = render_html(report)
    directory.mkdir(parents=True, exist_ok=True)
    html_path = directory / f"haven-report-{report.year}.html"
    pdf_path = directory / f"haven-report-{report.year}.pdf"
    # An internal report stays readable by its owner only; open statistics are for everyone.
    mode = 0o600 if report.marking else 0o644
    _write_atomically(html_path, html.encode("utf-8"), mode)
    try:
        # WeasyPrint takes half a second to import; only the report needs it.
        from weasyprint import HTML  # type: ignore[import-untyped]  # noqa: PLC0415
    except OSError as exc:  # its Pango libraries are missing
        raise ConfigurationError(
            f"wrote {html_path}, but the PDF needs Pango, which WeasyPrint could not load "
            f"({exc}); on Debian: apt-get install libpango-1.0-0 libpangoft2-1.0-0"
        ) from None
    document = HTML(string=html, url_fetcher=_no_fetching()).render()
    _write_atomically(pdf_path, document.write_pdf(), mode)
    return Written(html_path, pdf_path, len(document.pages))
