"""Open statistics: aggregates anyone may download, built so that they reveal no one.

They count only incidents labelled TLP:CLEAR or cleared for statistics by their contributor,
whose people made no consent statement that keeps them from the public
(:func:`haven.access.policy.counted_in_bulk` for the public reader), and only those their
contributing organisation has marked verified. They are published as dated releases
(:mod:`haven.insight.releases`), never counted live for a visitor.

A release reads those records once and gives each its record key (:mod:`haven.insight.noise`).
Every entry of every open table, cell, row and column total and table total alike, is perturbed
by its own cell key, so published tables need not add up; then each table is protected by
:mod:`haven.insight.disclosure` with the perturbed values as if they were exact, and published
counts are rounded where configured. The figures for analysts (:mod:`haven.insight.figures`)
stay exact: only what the public sees is perturbed.

The open tables are a fixed set over the whole period: offering any filter would let two
filtered tables be subtracted from each other to reveal the small counts each one withholds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from haven.access.policy import Reader, counted_in_bulk
from haven.domain.enums import IncidentStatus
from haven.insight.cube import TARGET
from haven.insight.disclosure import Margins, Protected, protect, protect_counts, rounded
from haven.insight.figures import (
    DEFAULT_PRESENTATION,
    NOT_RECORDED,
    Concentration,
    Presentation,
    make_table,
)
from haven.insight.models import TacticMethod
from haven.insight.noise import MAX_NOISE, RecordKeys, Tally
from haven.insight.specs import BY_NAME, OPEN_STATISTICS, SOURCES
from haven.insight.tables import Table
from haven.registry.models import Incident, IncidentPerson, IncidentTactic, Person

OPEN_TABLES = tuple(statistic.name for statistic in OPEN_STATISTICS)
RELEASE_FORMAT = 1
Cells = dict[tuple[str, ...], int]


@dataclass(frozen=True, slots=True)
class Protection:
    """How open statistics are protected: the threshold k, the rounding base and the record
    keys that perturb every count."""

    threshold: int
    rounding: int
    keys: RecordKeys


@dataclass(frozen=True, slots=True)
class OpenFigures:
    threshold: int
    rounding: int
    total: int | None
    tables: dict[str, Table]
    concentration: Concentration | None
    released_at: datetime | None = None

    def as_dict(self) -> dict[str, object]:
        top = self.concentration
        return {
            "released_at": None if self.released_at is None else self.released_at.isoformat(),
            "threshold": self.threshold,
            "rounding": self.rounding,
            "total": self.total,
            "concentration": None
            if top is None
            else {
                "n": top.n,
                "states": [{"origin": s, "count": c} for s, c in top.states],
                "incidents": top.incidents,
                "total": top.total,
                "share": top.share,
            },
            "tables": {name: self.tables[name].as_dict() for name in OPEN_TABLES},
            "methods": methods(self.threshold, self.rounding),
        }


def methods(threshold: int, rounding: int) -> list[str]:
    """The rules, in words, for the methods section of every publication."""
    rules = [
        "What is counted: incidents recorded in Haven that their contributing organisation "
        "labelled TLP:CLEAR or cleared for statistics, and has marked verified. The "
        "contributing organisation holds the record and answers for it; an incident reported "
        "through the public form counts only once that organisation has checked and verified "
        "it. An incident about a person who made a consent statement is counted only where the "
        "person allowed the public to see it, which a consent statement never does today; such "
        "incidents are left out.",
        "What is not counted: incidents under any other label, incidents not verified (reported, "
        "under review, not substantiated or archived), incidents not yet recorded, and anything "
        "about who the people are. An incident is counted in the year it began and in the state "
        "where it happened (its host state); origin is the state believed responsible.",
        "Releases: open statistics are published as dated releases, not counted afresh for each "
        "visitor. A release counts the records as they stood on its date and stays as published "
        "until the next one.",
        "Tactics and PACE methods overlap: an incident with several tactics counts once under "
        "each, so those tables have no total. Targets by profile count each target of an "
        "incident once.",
        "Noise: every count carries a small random error before anything else is done with it "
        "(the cell key method that statistics offices use for their table builders). Each "
        "record has a secret key; a count's key is the sum of the keys of the records it counts "
        "and picks the error from a fixed table: zero for a third of all counts, at most 2 "
        f"either way for 84% of them, never more than {MAX_NOISE}, and zero on average. An "
        "empty count stays empty and no other count becomes less than one. The same records "
        "always give the same error, so a count looks the same in every release until its "
        "records change, and asking again tells nothing new; one record more or less gives the "
        "count a new key and a new error, so the difference between two releases is not the "
        "number of records that changed. Totals carry errors of their own, apart from the "
        "counts they sum, so a table need not add up; totals of the same incidents (all of them "
        "by year, by origin or by involvement) are the same everywhere.",
        f"Small counts: no published count is below {threshold}. Counts that come to 1 to "
        f"{threshold - 1} with their error are withheld, and so are further counts chosen so "
        "that no withheld count could be worked out from the published ones even without the "
        f"errors (secondary suppression): in every row, column and total, withheld counts are "
        f"either none or at least two that together make at least {threshold}, and an exact "
        "check confirms that none of them would be fixed by the published figures. Withheld "
        "and empty cells are not listed. If all incidents together come to fewer than "
        f"{threshold}, nothing is published.",
        "No filters are offered on open statistics, because two filtered tables could be "
        "subtracted from each other to reveal the small counts each one withholds.",
    ]
    if rounding > 1:
        rules.append(
            f"Published counts are rounded to the nearest multiple of {rounding}; a count that "
            f"would round below {threshold} is rounded up. Rounded counts need not add up to "
            "the rounded totals."
        )
    return rules


def release_note(figures: OpenFigures) -> str:
    """Which release the figures are, in words."""
    when = figures.released_at
    if when is None:
        return "These figures were counted as the records stood when they were made."
    return (
        f"These figures are the release of {when.day} {when:%B %Y} ({when:%H:%M} UTC): they "
        "count the records as they stood then."
    )


# -- counting, with record keys ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OpenRecords:
    """The records open statistics count, as read for one release: each incident with its
    year and traits, and its tactics, PACE methods and targets."""

    # (id, year, origin, host, involvement, accusation)
    incidents: tuple[tuple[str, str, str, str, str, str], ...]
    tactics: tuple[tuple[str, str], ...]  # (incident id, tactic)
    methods: tuple[tuple[str, str], ...]  # (incident id, method), once per incident
    targets: tuple[tuple[str, str, str], ...]  # (incident id, person id, profile)


def _counted() -> list[ColumnElement[bool]]:
    """The incidents open statistics count: what the gate lets the public count, verified."""
    return [counted_in_bulk(Reader.public("open")), Incident.status == IncidentStatus.VERIFIED]


def open_records(session: Session) -> OpenRecords:
    """Read the records open statistics count, through the gate in set form."""
    counted = select(Incident.id).where(*_counted())
    incidents = tuple(
        (
            row.id,
            str(row.occurred_start.year),
            str(row.origin_state),
            row.host_state or NOT_RECORDED,
            str(row.host_involvement.value),
            NOT_RECORDED if row.accusation is None else str(row.accusation.value),
        )
        for row in session.execute(
            select(
                Incident.id,
                Incident.occurred_start,
                Incident.origin_state,
                Incident.host_state,
                Incident.host_involvement,
                Incident.accusation,
            ).where(*_counted())
        )
    )
    tactics = session.execute(
        select(IncidentTactic.incident_id, IncidentTactic.tactic).where(
            IncidentTactic.incident_id.in_(counted)
        )
    )
    methods = session.execute(
        select(IncidentTactic.incident_id, TacticMethod.method)
        .join(TacticMethod, TacticMethod.tactic == IncidentTactic.tactic)
        .where(IncidentTactic.incident_id.in_(counted))
        .distinct()
    )
    targets = session.execute(
        select(
            IncidentPerson.incident_id,
            IncidentPerson.person_id,
            func.coalesce(Person.profile, NOT_RECORDED),
        )
        .join(Person, Person.id == IncidentPerson.person_id)
        .where(IncidentPerson.incident_id.in_(counted), IncidentPerson.role == TARGET)
    )
    return OpenRecords(
        incidents=incidents,
        tactics=tuple((str(i), str(t)) for i, t in tactics),
        methods=tuple((str(i), str(m)) for i, m in methods),
        targets=tuple((str(i), str(p), str(f)) for i, p, f in targets),
    )


def tallies(records: OpenRecords, keys: RecordKeys) -> dict[str, Tally]:
    """Every source's exact counts and cell keys (:data:`~haven.insight.specs.SOURCES`, keyed
    in the order of each source's dimensions).

    Incidents are the records of every table but targets, whose records are an incident's links
    to its targets: a person targeted in two incidents is two records. A child row of an
    incident that was not yet counted when its incident was read (written while the release
    was being read) is left out with it."""
    found: dict[str, tuple[str, int]] = {}
    by_source = {source.name: Tally() for source in SOURCES}
    for incident_id, year, origin, host, involvement, accusation in records.incidents:
        key = keys.of("incident", incident_id)
        found[incident_id] = (year, key)
        by_source["places"].add((origin, host), key)
        by_source["traits"].add((year, involvement, accusation), key)
    for incident_id, tactic in records.tactics:
        if incident_id in found:
            year, key = found[incident_id]
            by_source["tactics"].add((tactic, year), key)
    for incident_id, method in records.methods:
        if incident_id in found:
            by_source["methods"].add((method,), found[incident_id][1])
    for incident_id, person_id, profile in records.targets:
        if incident_id in found:
            by_source["profiles"].add((profile,), keys.of("target", incident_id, person_id))
    return by_source


@dataclass(frozen=True, slots=True)
class Perturbed:
    """One open table after perturbation: its cells and, each perturbed by its own cell key,
    its row and column totals (two-way) and its total (where the categories add up)."""

    cells: Cells
    rows: dict[str, int] | None = None
    columns: dict[str, int] | None = None
    total: int | None = None


def _by_code(cells: Cells) -> dict[str, int]:
    return {key[0]: n for key, n in cells.items()}


def perturbed_tables(by_source: Mapping[str, Tally]) -> dict[str, Perturbed]:
    """Every open table perturbed, margins and totals apart from their cells. A table published
    as the margin of a two-way table (``part_of``) is that table's margin."""
    tables: dict[str, Perturbed] = {}
    for s in OPEN_STATISTICS:
        if s.part_of is not None:
            continue
        source = by_source[s.source.name]
        cells = source.margin(s.positions).perturbed()
        total = source.margin(()).perturbed().get((), 0) if s.additive else None
        if len(s.dimensions) == 1:
            tables[s.name] = Perturbed(cells, total=total)
            continue
        first, second = s.positions
        rows = _by_code(source.margin((first,)).perturbed())
        # Overlapping categories (tactics by year) publish no column totals: the sums of the
        # cells then only give the equations their shape.
        columns = _by_code(source.margin((second,)).perturbed()) if s.additive else None
        tables[s.name] = Perturbed(cells, rows=rows, columns=columns, total=total)
    return tables


# -- protection ----------------------------------------------------------------------------------


def _round_all(
    values: Mapping[tuple[str, ...], int], base: int, k: int
) -> dict[tuple[str, ...], int]:
    return {key: rounded(value, base, k) for key, value in values.items()}


def _protected(raw: Mapping[str, Perturbed], k: int) -> dict[str, tuple[Cells, int | None]]:
    """Each open table's published cells and total: a two-way table with its margins
    protected as one, every other table alone."""
    grids: dict[str, Protected] = {}
    published: dict[str, tuple[Cells, int | None]] = {}
    for statistic in OPEN_STATISTICS:
        if len(statistic.dimensions) == 2:
            table = raw[statistic.name]
            margins = Margins(table.rows, table.columns, table.total)
            grid = protect({(key[0], key[1]): n for key, n in table.cells.items()}, k, margins)
            grids[statistic.name] = grid
            total = grid.total if statistic.additive else None
            published[statistic.name] = ({(r, c): n for (r, c), n in grid.cells.items()}, total)
    for statistic in OPEN_STATISTICS:
        if len(statistic.dimensions) == 2:
            continue
        if statistic.part_of is not None:
            grid = grids[statistic.part_of]
            first = BY_NAME[statistic.part_of].dimensions[0] == statistic.dimensions[0]
            margin = grid.rows if first else grid.columns
            total = grid.total if statistic.additive else None
            published[statistic.name] = ({(code,): n for code, n in margin.items()}, total)
        else:
            table = raw[statistic.name]
            counts, total = protect_counts(
                _by_code(table.cells), k, additive=statistic.additive, total=table.total
            )
            published[statistic.name] = ({(code,): n for code, n in counts.items()}, total)
    return published


def protected_figures(
    noisy: Mapping[str, Perturbed],
    protection: Protection,
    presentation: Presentation = DEFAULT_PRESENTATION,
) -> OpenFigures:
    """The open figures from the perturbed tables: protected, rounded, labelled."""
    k, rounding = protection.threshold, protection.rounding
    published = _protected(noisy, k)
    # Origin by host counts every incident once (an unknown host is a column of its own).
    total = published["origin_host"][1]
    tables: dict[str, Table] = {}
    for name in OPEN_TABLES:
        cells, table_total = published[name]
        if rounding > 1:
            cells = _round_all(cells, rounding, k)
            table_total = None if table_total is None else rounded(table_total, rounding, k)
        tables[name] = make_table(name, cells, total=table_total, language=presentation.language)
    if total is not None and rounding > 1:
        total = rounded(total, rounding, k)
    origins = noisy["origin_host"].rows or {}
    return OpenFigures(
        threshold=k,
        rounding=rounding,
        total=total,
        tables=tables,
        concentration=_concentration(origins, tables["origin"], total, presentation.top_n),
    )


def open_figures(
    session: Session,
    protection: Protection,
    *,
    presentation: Presentation = DEFAULT_PRESENTATION,
) -> OpenFigures:
    """Every open table, perturbed and protected, from the records as they stand."""
    noisy = perturbed_tables(tallies(open_records(session), protection.keys))
    return protected_figures(noisy, protection, presentation)


def _concentration(
    origins: Mapping[str, int], shown_origins: Table, total: int | None, n: int
) -> Concentration | None:
    """The top-N share, published only when each of the N largest origin states (by their
    perturbed counts) is published itself, so that it gives away nothing the origin table does
    not."""
    if total is None or not total:
        return None
    ranked = sorted(((s, c) for s, c in origins.items() if c), key=lambda i: (-i[1], i[0]))
    top = [state for state, _ in ranked[:n]]
    shown = {key[0]: count for key, count in shown_origins.rows}
    if len(top) < n or any(state not in shown for state in top):
        return None
    states = tuple((state, shown[state]) for state in top)
    tied = len(ranked) > n and ranked[n][1] == ranked[n - 1][1]
    return Concentration(n, states, sum(c for _, c in states), total, tied)


# -- a release's figures as stored ----------------------------------------------------------------


def release_data(figures: OpenFigures) -> dict[str, Any]:
    """The figures as a release stores them: codes and counts, no labels, so that a release can
    be shown in any language."""
    top = figures.concentration
    return {
        "format": RELEASE_FORMAT,
        "threshold": figures.threshold,
        "rounding": figures.rounding,
        "max_noise": MAX_NOISE,
        "total": figures.total,
        "concentration": None
        if top is None
        else {
            "n": top.n,
            "states": [[state, count] for state, count in top.states],
            "incidents": top.incidents,
            "total": top.total,
            "tied": top.tied,
        },
        "tables": {
            name: {
                "rows": [[list(key), count] for key, count in table.rows],
                "total": table.total,
            }
            for name, table in figures.tables.items()
        },
    }


def figures_of_release(
    data: Mapping[str, Any], released_at: datetime, language: str = "en"
) -> OpenFigures:
    """A stored release as figures to show, labelled in ``language``."""
    if data.get("format") != RELEASE_FORMAT:
        raise ValueError(f"unknown release format {data.get('format')!r}")
    tables = {}
    for name in OPEN_TABLES:
        stored = data["tables"][name]
        cells = {tuple(codes): int(count) for codes, count in stored["rows"]}
        tables[name] = make_table(name, cells, total=stored["total"], language=language)
    top = data["concentration"]
    concentration = (
        None
        if top is None
        else Concentration(
            int(top["n"]),
            tuple((str(state), int(count)) for state, count in top["states"]),
            int(top["incidents"]),
            int(top["total"]),
            bool(top["tied"]),
        )
    )
    return OpenFigures(
        threshold=int(data["threshold"]),
        rounding=int(data["rounding"]),
        total=data["total"],
        tables=tables,
        concentration=concentration,
        released_at=released_at,
    )
