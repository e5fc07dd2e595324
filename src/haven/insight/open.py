"""Open statistics: aggregates anyone may download, built so that they reveal no one.

They count only incidents labelled TLP:CLEAR or cleared for statistics by their contributor,
whose people made no consent statement that keeps them from the public
(:func:`haven.access.policy.counted` for the public reader). Every table is then protected by
:mod:`haven.insight.disclosure`, and published counts are rounded where configured.

The open tables are a fixed set over the whole period: offering any filter would let two
filtered tables be subtracted from each other to reveal the small counts each one withholds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from haven.access.policy import Reader
from haven.insight.disclosure import Protected, protect, protect_counts, rounded
from haven.insight.figures import (
    DEFAULT_PRESENTATION,
    Concentration,
    Filters,
    Presentation,
    count,
    make_table,
    tables_from,
)
from haven.insight.specs import BY_NAME, OPEN_STATISTICS
from haven.insight.tables import Table

OPEN_TABLES = tuple(statistic.name for statistic in OPEN_STATISTICS)
Cells = dict[tuple[str, ...], int]


@dataclass(frozen=True, slots=True)
class OpenFigures:
    threshold: int
    rounding: int
    total: int | None
    tables: dict[str, Table]
    concentration: Concentration | None

    def as_dict(self) -> dict[str, object]:
        top = self.concentration
        return {
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
        "labelled TLP:CLEAR or cleared for statistics. An incident about a person who made a "
        "consent statement is counted only where the person allowed the public to see it, "
        "which a consent statement never does today; such incidents are left out.",
        "What is not counted: incidents under any other label, incidents not yet recorded, and "
        "anything about who the people are. An incident is counted in the year it began and in "
        "the state where it happened (its host state); origin is the state believed responsible.",
        "Tactics and PACE methods overlap: an incident with several tactics counts once under "
        "each, so those tables have no total. Targets by profile count each target of an "
        "incident once.",
        f"Small counts: no published count is below {threshold}. Counts from 1 to "
        f"{threshold - 1} are withheld, and so are further counts chosen so that no withheld "
        "count can be worked out from the totals that are published (secondary suppression): "
        f"in every row, column and total, withheld counts are either none or at least two that "
        f"together make at least {threshold}, and an exact check confirms that none of them is "
        "fixed by the published figures. Withheld and empty cells are not listed. If all "
        f"incidents together are fewer than {threshold}, nothing is published.",
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


def _round_all(
    values: Mapping[tuple[str, ...], int], base: int, k: int
) -> dict[tuple[str, ...], int]:
    return {key: rounded(value, base, k) for key, value in values.items()}


def _protected(
    raw: Mapping[str, Mapping[tuple[str, ...], int]], k: int
) -> dict[str, tuple[Cells, int | None]]:
    """Each open table's published cells and total: a two-way table with its margins
    protected as one, every other table alone."""
    grids: dict[str, Protected] = {}
    published: dict[str, tuple[Cells, int | None]] = {}
    for statistic in OPEN_STATISTICS:
        if len(statistic.dimensions) == 2:
            grid = protect({(key[0], key[1]): n for key, n in raw[statistic.name].items()}, k)
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
            counts, total = protect_counts(
                {key[0]: n for key, n in raw[statistic.name].items()},
                k,
                additive=statistic.additive,
            )
            published[statistic.name] = ({(code,): n for code, n in counts.items()}, total)
    return published


def open_figures(
    session: Session,
    *,
    threshold: int,
    rounding: int = 1,
    presentation: Presentation = DEFAULT_PRESENTATION,
) -> OpenFigures:
    """Every open table, protected."""
    raw = tables_from(count(session, Reader.public("open"), Filters()))
    k = threshold
    published = _protected(raw, k)
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
    return OpenFigures(
        threshold=k,
        rounding=rounding,
        total=total,
        tables=tables,
        concentration=_concentration(raw["origin"], tables["origin"], total, presentation.top_n),
    )


def _concentration(
    true_origins: Mapping[tuple[str, ...], int], origins: Table, total: int | None, n: int
) -> Concentration | None:
    """The top-N share, published only when each of the N largest origin states is published
    itself, so that it gives away nothing the origin table does not."""
    if total is None or not total:
        return None
    ranked = sorted(((k[0], c) for k, c in true_origins.items() if c), key=lambda i: (-i[1], i[0]))
    top = [state for state, _ in ranked[:n]]
    shown = {key[0]: count for key, count in origins.rows}
    if len(top) < n or any(state not in shown for state in top):
        return None
    states = tuple((state, shown[state]) for state in top)
    tied = len(ranked) > n and ranked[n][1] == ranked[n - 1][1]
    return Concentration(n, states, sum(c for _, c in states), total, tied)
