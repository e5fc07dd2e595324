"""Every statistic Haven shows, as one list of specifications.

The dashboard, its CSV and JSON, open statistics, ``haven stats`` and the annual report all read
:data:`STATISTICS`: what a figure is called, what it counts and from which count table, how it is
drawn and whether it is published openly. A new figure over the dimensions already read is one
entry; a new dimension is a column read in :data:`SOURCES` (and in the gate's corrections in
:mod:`haven.insight.figures`) and an entry in :data:`DIMENSIONS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from haven.insight.models import MethodCount, PlaceCount, ProfileCount, TacticCount, TraitCount

__all__ = [
    "BY_NAME",
    "DIMENSIONS",
    "OPEN_STATISTICS",
    "SOURCES",
    "STATISTICS",
    "ChartKind",
    "Dimension",
    "Source",
    "Statistic",
    "one_way",
]

ChartKind = Literal["bar", "line", "heatmap"]


@dataclass(frozen=True, slots=True)
class Source:
    """The counts read from one count table, keyed by ``dimensions`` in this order."""

    name: str
    model: type[Any]
    dimensions: tuple[str, ...]


PLACES = Source("places", PlaceCount, ("origin", "host"))
TRAITS = Source("traits", TraitCount, ("year", "involvement", "accusation"))
TACTICS = Source("tactics", TacticCount, ("tactic", "year"))
METHODS = Source("methods", MethodCount, ("method",))
PROFILES = Source("profiles", ProfileCount, ("profile",))
SOURCES = (PLACES, TRAITS, TACTICS, METHODS, PROFILES)


@dataclass(frozen=True, slots=True)
class Statistic:
    """One figure: a table of counts by one or two dimensions, summed from a source.

    ``additive``: the categories do not overlap, so the counts add up to a total. ``part_of``
    names the two-way statistic this one is a margin of, which open statistics protect together
    so that neither gives away what the other withholds. ``terminal_rows`` caps the rows
    ``haven stats`` prints.
    """

    name: str
    title: str
    dimensions: tuple[str, ...]
    source: Source
    chart: ChartKind
    measure: str = "incidents"
    additive: bool = True
    note: str = ""
    published: bool = True
    part_of: str | None = None
    in_key_order: bool = False
    terminal_rows: int | None = None

    @property
    def positions(self) -> tuple[int, ...]:
        """Where the statistic's dimensions sit in its source's key."""
        return tuple(self.source.dimensions.index(d) for d in self.dimensions)

    @property
    def csv_name(self) -> str:
        return f"haven-{self.name}.csv"

    @property
    def open_csv_name(self) -> str:
        return f"haven-open-{self.name}.csv"


SEVERAL_TACTICS = "An incident with several tactics counts once under each."
STATISTICS = (
    Statistic("year", "Incidents by year", ("year",), TRAITS, "line", in_key_order=True),
    Statistic(
        "origin", "Incidents by origin state", ("origin",), PLACES, "bar", part_of="origin_host"
    ),
    Statistic("host", "Incidents by host state", ("host",), PLACES, "bar", part_of="origin_host"),
    Statistic(
        "origin_host",
        "Origin state by host state",
        ("origin", "host"),
        PLACES,
        "heatmap",
        terminal_rows=20,
    ),
    Statistic(
        "tactic",
        "Incidents by tactic",
        ("tactic",),
        TACTICS,
        "bar",
        additive=False,
        note=SEVERAL_TACTICS,
        part_of="tactic_year",
    ),
    Statistic(
        "method",
        "Incidents by PACE method",
        ("method",),
        METHODS,
        "bar",
        additive=False,
        note="An incident counts once under each PACE method its tactics belong to.",
    ),
    Statistic(
        "tactic_year",
        "Tactic by year",
        ("tactic", "year"),
        TACTICS,
        "heatmap",
        additive=False,
        note=SEVERAL_TACTICS,
        terminal_rows=20,
    ),
    Statistic(
        "profile",
        "Targets by profile",
        ("profile",),
        PROFILES,
        "bar",
        measure="targets",
        note="Each target of an incident counts once; a person targeted twice counts twice.",
    ),
    Statistic(
        "involvement",
        "Incidents by host-state involvement",
        ("involvement",),
        TRAITS,
        "bar",
    ),
    Statistic("accusation", "Incidents by accusation used", ("accusation",), TRAITS, "bar"),
)
BY_NAME = {statistic.name: statistic for statistic in STATISTICS}
OPEN_STATISTICS = tuple(statistic for statistic in STATISTICS if statistic.published)


def one_way(dimension: str) -> Statistic:
    """The statistic of one dimension alone (a two-way table cut to one year becomes it)."""
    return next(s for s in STATISTICS if s.dimensions == (dimension,))


@dataclass(frozen=True, slots=True)
class Dimension:
    """What a dimension is called: ``name`` in a terminal column or a sentence, ``heading`` as a
    column of the annual report."""

    code: str
    name: str
    heading: str


DIMENSIONS = {
    dimension.code: dimension
    for dimension in (
        Dimension("year", "year", "Year"),
        Dimension("origin", "origin state", "Origin state"),
        Dimension("host", "host state", "Host state"),
        Dimension("tactic", "tactic", "Tactic"),
        Dimension("method", "method", "Method"),
        Dimension("profile", "target profile", "Target profile"),
        Dimension("involvement", "host-state involvement", "Involvement"),
        Dimension("accusation", "accusation", "Accusation"),
    )
}
