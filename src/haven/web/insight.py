"""Insight pages: the analysts' dashboard behind sign-in, and open statistics for everyone.

Charts are SVG drawn on the server and shown as images, each beside its data table and a CSV
download, so the pages need no script. The dashboard counts what the policy gate lets the
signed-in reader count; the open pages and ``/api/v1/open/...`` publish only the latest release
of the protected open tables (:mod:`haven.insight.releases`), never a live count.
"""

from __future__ import annotations

import base64
import csv
import io
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from haven.access.policy import Reader
from haven.domain.countries import REGION_NAMES, country_name
from haven.errors import Forbidden, NotFound, ValidationFailed
from haven.insight.charts import chart_svg
from haven.insight.figures import Figures, Filters, Presentation, figures
from haven.insight.open import OPEN_TABLES, OpenFigures, methods, release_note
from haven.insight.releases import latest_release
from haven.insight.specs import BY_NAME, Statistic
from haven.insight.tables import Table
from haven.runtime import Runtime
from haven.web.deps import ReaderDep, ReadSessionDep, SessionDep
from haven.web.pages import RuntimeDep, VisitorDep, page

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1/open", tags=["open statistics"])
insight_api = APIRouter(prefix="/api/v1/insight", tags=["insight"])

CHART_CACHE = 256


@dataclass(frozen=True, slots=True)
class _Drawn:
    """What a chart shows of a table, as a key to cache the chart by."""

    title: str
    dimensions: tuple[str, ...]
    rows: tuple[tuple[tuple[str, ...], int], ...]
    labels: tuple[tuple[str, str], ...]
    measure: str
    chart: str | None

    def table(self) -> Table:
        return Table(
            "chart",
            self.title,
            self.dimensions,
            self.rows,
            measure=self.measure,
            labels=dict(self.labels),
            chart=self.chart,
        )


@lru_cache(maxsize=CHART_CACHE)
def _chart(drawn: _Drawn) -> str:
    return chart_svg(drawn.table())


def chart_uri(table: Table) -> str:
    """The table's chart as a data: URI for an image. A chart is drawn once per distinct table
    content, so an unchanged figure costs nothing to show again."""
    labels = tuple(sorted(table.labels.items()))
    drawn = _Drawn(table.title, table.dimensions, table.rows, labels, table.measure, table.chart)
    svg = _chart(drawn)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def chart_description(table: Table) -> str:
    if table.is_empty:
        return f"{table.title}: no data"
    top = ", ".join(
        f"{' / '.join(table.label(code) for code in key)} {count}" for key, count in table.rows[:3]
    )
    return f"Chart of {table.title.lower()}; largest: {top}. The table below holds every figure."


def csv_response(table: Table, filename: str) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows(table.csv_rows())
    if table.total is not None:
        writer.writerow(["total", *([""] * (2 * len(table.dimensions) - 1)), str(table.total)])
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@dataclass(frozen=True, slots=True)
class FilterQuery:
    """The period and region as typed in the query string (``from``, ``to``, ``region``)."""

    year_from: str
    year_to: str
    region: str

    def parse(self) -> Filters:
        def year(value: str, name: str) -> int | None:
            value = value.strip()
            if not value:
                return None
            if not value.isdigit():
                raise ValidationFailed(f"{name} must be a year such as 2024")
            return int(value)

        return Filters(
            year_from=year(self.year_from, "from"),
            year_to=year(self.year_to, "to"),
            region=self.region or None,
        )


def filter_query(
    year_from: Annotated[str, Query(alias="from", max_length=4)] = "",
    year_to: Annotated[str, Query(alias="to", max_length=4)] = "",
    region: Annotated[str, Query(max_length=20)] = "",
) -> FilterQuery:
    return FilterQuery(year_from, year_to, region)


FilterQueryDep = Annotated[FilterQuery, Depends(filter_query)]


def _dashboard(session: Any, reader: Reader, runtime: Runtime, filters: Filters) -> Figures:
    if not reader.reads_records:
        raise Forbidden("your role does not read figures")
    presentation = Presentation(top_n=runtime.settings.top_states)
    return figures(session, reader, filters, presentation=presentation)


# -- the analysts' dashboard --------------------------------------------------------------------


@router.get("/insight", response_class=HTMLResponse)
def dashboard(
    request: Request,
    *,
    visitor: VisitorDep,
    session: SessionDep,
    runtime: RuntimeDep,
    typed: FilterQueryDep,
) -> HTMLResponse:
    error = ""
    try:
        filters = typed.parse()
    except ValidationFailed as exc:
        error, filters = str(exc), Filters()
    result = None
    if visitor.reader.reads_records:
        result = _dashboard(session, visitor.reader, runtime, filters)
    query = request.url.query
    return page(
        request,
        "insight.html",
        status=400 if error else 200,
        visitor=visitor,
        figures=result,
        error=error,
        regions=REGION_NAMES,
        form={"from": typed.year_from, "to": typed.year_to, "region": typed.region},
        query=f"?{query}" if query else "",
        chart=chart_uri,
        describe=chart_description,
        country=country_name,
    )


@router.get("/insight/{name}.csv")
def dashboard_csv(
    name: str,
    *,
    visitor: VisitorDep,
    session: SessionDep,
    runtime: RuntimeDep,
    typed: FilterQueryDep,
) -> Response:
    result = _dashboard(session, visitor.reader, runtime, typed.parse())
    statistic = BY_NAME.get(name)
    if statistic is None:
        raise NotFound(f"no figure called {name!r}")
    return csv_response(result.tables[name], statistic.csv_name)


@insight_api.get("/figures")
def figures_json(
    *,
    reader: ReaderDep,
    session: ReadSessionDep,
    runtime: RuntimeDep,
    typed: FilterQueryDep,
) -> JSONResponse:
    """Every figure of the dashboard for the token's reader (aggregates only)."""
    if reader.is_public:
        raise Forbidden("sign in with an API token; open statistics are at /api/v1/open/figures")
    result = _dashboard(session, reader, runtime, typed.parse())
    top = result.concentration
    return JSONResponse(
        {
            "filters": result.filters.describe(),
            "total": result.total,
            "concentration": {
                "n": top.n,
                "states": [{"origin": s, "count": c} for s, c in top.states],
                "incidents": top.incidents,
                "share": top.share,
                "tied": top.tied,
            },
            "tables": {name: table.as_dict() for name, table in result.tables.items()},
            "response": [
                {**asdict(answer), "overdue_share": answer.overdue_share}
                for answer in result.response
            ],
        }
    )


# -- open statistics ------------------------------------------------------------------------------

NOT_RELEASED = "no open statistics have been released yet"


def _open(session: Any) -> OpenFigures:
    published = latest_release(session)
    if published is None:
        raise NotFound(NOT_RELEASED, hint="a release is made monthly, or by `haven stats release`")
    return published


def _open_statistic(name: str) -> Statistic:
    statistic = BY_NAME.get(name)
    if statistic is None or not statistic.published:
        raise NotFound(f"no open table called {name!r}; the tables are {', '.join(OPEN_TABLES)}")
    return statistic


@router.get("/open", response_class=HTMLResponse)
def open_page(request: Request, session: ReadSessionDep, runtime: RuntimeDep) -> HTMLResponse:
    """The latest release, or a page that says there is none yet."""
    published = latest_release(session)
    settings = runtime.settings
    rules = (
        methods(settings.open_threshold, settings.open_rounding)
        if published is None
        else methods(published.threshold, published.rounding)
    )
    return page(
        request,
        "open.html",
        visitor=None,
        figures=published,
        order=OPEN_TABLES,
        methods=rules,
        release=None if published is None else release_note(published),
        chart=chart_uri,
        describe=chart_description,
    )


@router.get("/open/{name}.csv")
def open_csv(name: str, session: ReadSessionDep) -> Response:
    return _open_csv(name, session)


@api.get("/figures")
def open_json(session: ReadSessionDep) -> JSONResponse:
    """Every open table of the latest release, protected, with its date and the rules that
    protect it."""
    return JSONResponse(_open(session).as_dict())


@api.get("/tables/{name}.json")
def open_table_json(name: str, session: ReadSessionDep) -> JSONResponse:
    statistic = _open_statistic(name)
    published = _open(session)
    return JSONResponse(
        {
            **published.tables[statistic.name].as_dict(),
            "released_at": None
            if published.released_at is None
            else published.released_at.isoformat(),
        }
    )


@api.get("/tables/{name}.csv")
def open_table_csv(name: str, session: ReadSessionDep) -> Response:
    return _open_csv(name, session)


def _open_csv(name: str, session: Any) -> Response:
    statistic = _open_statistic(name)
    table = _open(session).tables[statistic.name]
    return csv_response(table, statistic.open_csv_name)
