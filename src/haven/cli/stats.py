"""``haven stats`` and ``haven report``: the figures in the terminal, as JSON, and as an annual
report (HTML and PDF); ``haven stats release`` publishes a release of open statistics.

Both show the open statistics by default: the latest release, the tables anyone may download,
protected so that they reveal no one. With ``--organisation`` they count as an analyst of that
organisation would: everything the organisation may read, exact and unsuppressed, for internal
use only.
"""

from __future__ import annotations

import functools
import inspect
import json
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table as RichTable
from rich.text import Text
from sqlalchemy import select
from sqlalchemy.orm import Session

from haven.access.models import SharingGroupMember
from haven.access.policy import Reader
from haven.cli.access import _organisation
from haven.domain.countries import REGION_NAMES
from haven.domain.enums import Role
from haven.errors import NotFound, ValidationFailed
from haven.insight.figures import Concentration, Filters, Presentation, Response, figures
from haven.insight.open import OpenFigures, release_note
from haven.insight.releases import Publisher, latest_release, make_release
from haven.insight.report import (
    AMBER_MARKING,
    NO_REFERRALS,
    Edition,
    concentration_dict,
    number,
    open_report,
    open_response,
    organisation_report,
    response_dict,
    write_report,
)
from haven.insight.specs import BY_NAME, DIMENSIONS
from haven.insight.tables import Table
from haven.registry.models import Contributor
from haven.runtime import open_runtime
from haven.settings import load_settings

__all__ = ["release", "report", "stats", "stats_app"]

out = Console(soft_wrap=True)
ACTOR = "cli:stats"
NOT_RELEASED = "no open statistics have been released yet"
RELEASE_HINT = "make the first with `haven stats release`"
OPEN_HAS_NO_FILTERS = (
    "open statistics have no filters: two filtered tables could be subtracted from each other "
    "to reveal the small counts each one withholds"
)

Organisation = Annotated[
    str | None,
    typer.Option(
        "--organisation",
        "--org",
        help="Count as an analyst of this organisation (name or id) would: exact, unsuppressed "
        "figures for internal use. Without it: the open statistics.",
    ),
]
TopN = Annotated[
    int | None,
    typer.Option(
        "--top",
        min=1,
        max=100,
        help="How many origin states the concentration figure counts (HAVEN_TOP_STATES); "
        "open statistics show the release's own.",
    ),
]


def analyst_of(session: Session, name_or_id: str) -> tuple[Contributor, Reader]:
    """The organisation and a reader counting as one of its analysts: its own records, what its
    sharing groups share, what is referred to it; never identities."""
    found = _organisation(session, name_or_id)
    groups = session.scalars(
        select(SharingGroupMember.group_id).where(SharingGroupMember.organisation_id == found.id)
    )
    reader = Reader(
        user_id=None,
        organisation_id=found.id,
        organisation_kind=found.kind,
        member_state=found.member_state,
        roles=frozenset({Role.ANALYST}),
        groups=frozenset(groups),
        surface="cli",
    )
    return found, reader


@dataclass(frozen=True, slots=True)
class Period:
    """``--from``, ``--to`` and ``--region``: which incidents an organisation's figures cover."""

    year_from: int | None = None
    year_to: int | None = None
    region: str | None = None

    def filters(self) -> Filters:
        region = None if self.region is None else self.region.lower()
        return Filters(year_from=self.year_from, year_to=self.year_to, region=region)


_PERIOD_OPTIONS = tuple(
    inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation)
    for name, annotation in (
        (
            "year_from",
            Annotated[
                int | None, typer.Option("--from", help="First year (of the start of incidents).")
            ],
        ),
        ("year_to", Annotated[int | None, typer.Option("--to", help="Last year.")]),
        (
            "region",
            Annotated[
                str | None,
                typer.Option(help=f"Where incidents happened: {', '.join(REGION_NAMES)}."),
            ],
        ),
    )
)


def _period_options(command: Callable[..., None]) -> Callable[..., None]:
    """The command with the options of a :class:`Period` in place of its ``period`` parameter:
    Typer reads a command's options from its signature, and this keeps the three together."""
    own = inspect.signature(command, eval_str=True).parameters
    options = [parameter for name, parameter in own.items() if name != "period"]

    @functools.wraps(command)
    def with_period(**given: Any) -> None:
        names = [parameter.name for parameter in _PERIOD_OPTIONS]
        period = Period(*(given.pop(name) for name in names))
        command(period=period, **given)

    with_period.__signature__ = inspect.Signature([*_PERIOD_OPTIONS, *options])  # type: ignore[attr-defined]
    return with_period


@dataclass(frozen=True, slots=True)
class View:
    """What ``haven stats`` shows, for the terminal, and ``data`` for JSON."""

    heading: str
    open: bool
    total: int | None
    concentration: Concentration | None
    tables: Mapping[str, Table]
    response: tuple[Response, ...]
    response_note: str
    data: dict[str, Any]


# -- the command --------------------------------------------------------------------------------

stats_app = typer.Typer(invoke_without_command=True, no_args_is_help=False)


@_period_options
def stats(
    *,
    context: typer.Context,
    period: Period,
    organisation: Organisation = None,
    top: TopN = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="The same figures as JSON on standard output.")
    ] = False,
) -> None:
    """Show the figures: totals, concentration, every table and response times. By default the
    latest release of open statistics (no filters: they are fixed tables over the whole
    period); with --organisation, what an analyst of that organisation counts, filtered as
    asked. `haven stats release` publishes a new release."""
    if context.invoked_subcommand is not None:
        return
    filters = period.filters()
    settings = load_settings()
    top_n = top or settings.top_states
    if organisation is None and filters != Filters():
        raise ValidationFailed(
            OPEN_HAS_NO_FILTERS, hint="use --organisation NAME for filtered internal figures"
        )
    with open_runtime(settings) as runtime, runtime.reading() as session:
        if organisation is None:
            view = open_view(session, _latest(session))
        else:
            view = organisation_view(session, organisation, filters, top_n)
    if as_json:
        sys.stdout.write(json.dumps(view.data, indent=2, ensure_ascii=False) + "\n")
        return
    _print(view)


stats_app.callback()(stats)


@stats_app.command("release")
def release() -> None:
    """Publish open statistics now: count the records as they stand, perturb and protect every
    table, and keep the result as a dated release, which /open and /api/v1/open show until the
    next one. The worker makes one each period of HAVEN_OPEN_RELEASES."""
    settings = load_settings()
    with open_runtime(settings) as runtime:
        publisher = Publisher.of(settings, runtime.cipher(), ACTOR)
        with runtime.transaction() as session:
            made = make_release(session, publisher)
            when, total = made.released_at, made.figures["total"]
    counted = (
        f"{total:,} incidents"
        if total is not None
        else f"nothing published: fewer than {settings.open_threshold} incidents counted"
    )
    out.print(
        f"released open statistics, {when:%Y-%m-%d %H:%M} UTC: {counted}",
        markup=False,
        highlight=False,
    )


def _latest(session: Session) -> OpenFigures:
    published = latest_release(session)
    if published is None:
        raise NotFound(NOT_RELEASED, hint=RELEASE_HINT)
    return published


def open_view(session: Session, published: OpenFigures) -> View:
    threshold, rounding = published.threshold, published.rounding
    answers, note = open_response(session, threshold=threshold)
    rounded = f"rounded to multiples of {rounding}" if rounding > 1 else "not rounded"
    return View(
        heading=(
            f"[bold]Open statistics[/bold], all years: {escape(release_note(published))} No "
            f"published count is below {threshold}; every count carries a small random error; "
            f"counts {rounded}. Open statistics have no filters."
        ),
        open=True,
        total=published.total,
        concentration=published.concentration,
        tables=published.tables,
        response=answers,
        response_note=note,
        data={
            "view": "open",
            **published.as_dict(),
            "concentration": concentration_dict(published.concentration),
            "response": [response_dict(r, counts=False) for r in answers],
            "response_note": note,
        },
    )


def organisation_view(session: Session, organisation: str, filters: Filters, top_n: int) -> View:
    found, reader = analyst_of(session, organisation)
    counted = figures(session, reader, filters, presentation=Presentation(top_n=top_n))
    note = "" if counted.response else NO_REFERRALS
    return View(
        heading=(
            f"[bold]{AMBER_MARKING}[/bold]: figures as an analyst of {escape(found.name)} "
            f"counts them, {filters.describe()}. Counts are exact and not suppressed; do not "
            "publish them."
        ),
        open=False,
        total=counted.total,
        concentration=counted.concentration,
        tables=counted.tables,
        response=counted.response,
        response_note=note,
        data={
            "view": "organisation",
            "organisation": {"id": found.id, "name": found.name},
            "marking": AMBER_MARKING,
            "filters": {
                "year_from": filters.year_from,
                "year_to": filters.year_to,
                "region": filters.region,
                "description": filters.describe(),
            },
            "total": counted.total,
            "concentration": concentration_dict(counted.concentration),
            "tables": {name: table.as_dict() for name, table in counted.tables.items()},
            "response": [response_dict(r) for r in counted.response],
            "response_note": note,
        },
    )


# -- the terminal -------------------------------------------------------------------------------


def _print(view: View) -> None:
    out.print(view.heading, highlight=False)
    if view.total is None:
        out.print("Total: withheld (too few incidents to publish)")
    else:
        out.print(f"Total: {view.total:,} incidents", highlight=False)
    _print_concentration(view.concentration, view.open)
    for name, table in view.tables.items():
        out.print(_rich_table(table, BY_NAME[name].terminal_rows))
    _print_response(view.response, view.response_note)


def _print_concentration(top: Concentration | None, open_view: bool) -> None:
    if top is None:
        reason = (
            "not published: it is shown only when each of the largest origin states is "
            "published itself"
            if open_view
            else "no incidents"
        )
        out.print(f"Concentration: {reason}")
        return
    data = concentration_dict(top) or {"states": []}
    states = ", ".join(f"{s['origin_label']} {s['count']:,}" for s in data["states"])
    share = "—" if top.share is None else f"{top.share:.1%}"
    tied = "; the next state has as many as the last of these" if top.tied else ""
    out.print(
        f"Concentration: the top {len(top.states)} origin states account for {share} "
        f"({top.incidents:,} of {top.total:,} incidents): {states}{tied}",
        markup=False,
        highlight=False,
    )


def _rich_table(table: Table, first: int | None) -> RichTable:
    shown = table.rows if first is None else table.rows[:first]
    notes = []
    if len(shown) < len(table.rows):
        notes.append(f"first {len(shown)} of {len(table.rows)} rows")
    if table.is_empty:
        notes.append("no counts to show")
    if table.note:
        notes.append(table.note)
    grid = RichTable(
        title=escape(table.title),
        caption=escape("; ".join(notes)) or None,
        show_footer=table.total is not None,
        title_justify="left",
        caption_justify="left",
    )
    for position, dimension in enumerate(table.dimensions):
        name = DIMENSIONS[dimension].name
        grid.add_column(name, footer="Total" if position == 0 else "")
    footer = "" if table.total is None else f"{table.total:,}"
    grid.add_column(table.measure, justify="right", footer=footer)
    for key, n in shown:
        grid.add_row(*(Text(table.label(code)) for code in key), f"{n:,}")
    return grid


def _print_response(answers: tuple[Response, ...], note: str) -> None:
    if not answers:
        out.print(note, markup=False, highlight=False)
        return
    grid = RichTable(
        title="Response times per member state",
        caption=escape(note) or None,
        title_justify="left",
        caption_justify="left",
    )
    grid.add_column("member state")
    for heading in (
        "referrals",
        "ack median h",
        "ack p90 h",
        "action median d",
        "action p90 d",
        "overdue",
    ):
        grid.add_column(heading, justify="right")
    for answer in answers:
        grid.add_row(
            Text(response_dict(answer)["member_state_label"]),
            f"{answer.referrals:,}",
            number(answer.ack_median_hours),
            number(answer.ack_p90_hours),
            number(answer.action_median_days),
            number(answer.action_p90_days),
            f"{answer.overdue_share:.0%}",
        )
    out.print(grid)


# -- the annual report --------------------------------------------------------------------------


def report(
    year: Annotated[int, typer.Option("--year", help="The year the report covers.")],
    output: Annotated[
        Path, typer.Option("--output", help="Directory the two files are written to.")
    ] = Path(),
    organisation: Organisation = None,
    top: TopN = None,
) -> None:
    """Write the annual report for a year as haven-report-YEAR.html and haven-report-YEAR.pdf.
    By default from the latest release of open statistics (fit to publish); with
    --organisation, an internal TLP:AMBER report of what that organisation's analysts count."""
    Filters(year_from=year, year_to=year)  # checks the year before anything is opened
    settings = load_settings()
    edition = Edition(year, top_n=top or settings.top_states)
    with open_runtime(settings) as runtime, runtime.reading() as session:
        if organisation is None:
            built = open_report(session, edition, _latest(session))
        else:
            found, reader = analyst_of(session, organisation)
            built = organisation_report(session, reader, found.name, edition)
    started = time.monotonic()
    written = write_report(built, output)
    seconds = time.monotonic() - started
    out.print(str(written.html), markup=False, highlight=False)
    out.print(str(written.pdf), markup=False, highlight=False)
    pages = "page" if written.pages == 1 else "pages"
    label = f" ({built.marking})" if built.marking else ""
    out.print(
        f"annual report {year}{label}: {written.pages} {pages}, rendered in {seconds:.1f} s",
        highlight=False,
    )
