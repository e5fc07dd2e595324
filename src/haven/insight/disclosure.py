"""Statistical disclosure control: published counts that reveal no one.

Open statistics are tables of counts. Before publication every table is protected with a
threshold ``k`` by these rules:

1. Primary suppression. Every entry (cell, row total, column total, grand total) with
   ``0 < value < k`` is suppressed. Zero cells are never published, and they are treated as
   known to be zero: an attacker is assumed to know which cells are empty.
2. When the grand total is below ``k``, nothing at all is published.
3. Equations. In a two-way table each row total is the sum of its cells, each column total is
   the sum of its cells, and the grand total is the sum of the row totals and also the sum of
   the column totals. In a one-way table whose categories partition the population (every
   incident has one origin state) the total is the sum of the cells. In a one-way table whose
   categories overlap (an incident may use several tactics) there is no equation: only primary
   suppression applies and no total is published.
4. Secondary suppression, repeated until nothing changes:

   a. In every equation the suppressed nonzero entries are either none, or at least two whose
      sum is at least ``k``. Otherwise the smallest published term of the equation (a cell, or a
      margin in the equations of the grand total) is also suppressed, ties broken by key, and
      the equation's total only when no published term is left. An equation whose nonzero
      entries are all suppressed already is left as it is.
   b. No suppressed entry may be recomputable from the published entries and the zero cells.
      With the suppressed entries as unknowns, an entry is recomputable when the equations fix
      it, that is when its unit vector lies in the row space of the equations restricted to
      the unknowns. This is decided by exact row reduction modulo the prime ``2**61 - 1``; the
      equations of a table with margins form a network matrix, which is totally unimodular, so
      ranks modulo the prime equal ranks over the rationals. For each recomputable entry one
      more published entry of one of its equations is suppressed, the smallest term first and
      a total only when no term is left (searching the equations of neighbouring suppressed
      entries when its own have nothing left to suppress), and the rules apply again.

Every round suppresses at least one more entry, so the process ends, at worst with every
nonzero entry suppressed, which fixes none of them. Ties are broken by key, so a table always
gives the same result.

The margins and totals are the sums of the cells unless they are given (:class:`Margins`):
open statistics perturb every entry apart, margins and totals by their own cell keys
(:mod:`haven.insight.noise`), so they need not add up. The rules then apply to the values given,
as if the equations held: primary suppression to each entry's own value, and rules 3 and 4 to
the same equations, so that even someone who took the perturbed values for exact ones could
work out no withheld entry.

Published counts may then be rounded with :func:`rounded`; rounding never brings a published
count below ``k``.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["Margins", "Protected", "protect", "protect_counts", "rounded"]

_PRIME = 2**61 - 1

_CELL, _ROW, _COLUMN, _GRAND = 0, 1, 2, 3


@dataclass(frozen=True, slots=True)
class Protected:
    """The publishable part of a two-way table; suppressed and zero entries are absent."""

    cells: dict[tuple[str, str], int]
    rows: dict[str, int]
    columns: dict[str, int]
    total: int | None


@dataclass(frozen=True, slots=True)
class Margins:
    """A two-way table's row totals, column totals and grand total where they are not the sums
    of its cells; each part left ``None`` is the sum of the cells. A row or column with nonzero
    cells needs a total of at least one, and one without has none."""

    rows: Mapping[str, int] | None = None
    columns: Mapping[str, int] | None = None
    total: int | None = None


@dataclass(frozen=True, slots=True)
class _Line:
    """One equation: the entry ``total`` equals the sum of the entries ``members``."""

    total: int
    members: tuple[int, ...]


def _check_threshold(k: int) -> None:
    if k < 1:
        raise ValueError(f"threshold k must be at least 1, got {k}")


def _check_count(key: object, value: int) -> None:
    if value < 0:
        raise ValueError(f"count for {key!r} is negative: {value}")


def _ranks(keys: Sequence[tuple[int, int, tuple[str, ...]]]) -> list[int]:
    """Position of every entry when ordered by (value, kind, key)."""
    rank = [0] * len(keys)
    for position, index in enumerate(sorted(range(len(keys)), key=keys.__getitem__)):
        rank[index] = position
    return rank


def _subtract(target: dict[int, int], factor: int, row: Mapping[int, int]) -> None:
    """``target -= factor * row`` modulo the prime, keeping only nonzero coefficients."""
    for j, value in row.items():
        reduced = (target.get(j, 0) - factor * value) % _PRIME
        if reduced:
            target[j] = reduced
        else:
            target.pop(j, None)


def _determined(lines: Sequence[_Line], suppressed: Sequence[bool]) -> list[int]:
    """Suppressed entries that the equations fix, by row reduction modulo a prime."""
    column: dict[int, int] = {}
    entry_of: list[int] = []
    pivots: dict[int, dict[int, int]] = {}
    for line in lines:
        row: dict[int, int] = {}
        for entry, coefficient in ((line.total, 1), *((m, _PRIME - 1) for m in line.members)):
            if suppressed[entry]:
                if entry not in column:
                    column[entry] = len(entry_of)
                    entry_of.append(entry)
                row[column[entry]] = coefficient
        for pivot in [j for j in row if j in pivots]:
            _subtract(row, row[pivot], pivots[pivot])
        if not row:
            continue
        lead = min(row)
        inverse = pow(row[lead], -1, _PRIME)
        row = {j: value * inverse % _PRIME for j, value in row.items()}
        for other in pivots.values():
            if lead in other:
                _subtract(other, other[lead], row)
        pivots[lead] = row
    return [entry_of[lead] for lead, row in pivots.items() if len(row) == 1]


@dataclass(slots=True)
class _Suppression:
    """Entries tied by equations, and which of them are suppressed so far."""

    values: Sequence[int]
    rank: Sequence[int]
    lines: Sequence[_Line]
    k: int
    suppressed: list[bool] = field(init=False)
    lines_of: list[list[int]] = field(init=False)

    def __post_init__(self) -> None:
        self.suppressed = [0 < value < self.k for value in self.values]
        self.lines_of = [[] for _ in self.values]
        for index, line in enumerate(self.lines):
            for entry in (line.total, *line.members):
                self.lines_of[entry].append(index)

    def run(self) -> list[bool]:
        """Apply rules 4a and 4b until neither suppresses anything more."""
        while True:
            self.balance()
            if not any(self.suppressed):
                return self.suppressed
            touched: set[int] = set()
            for entry in sorted(
                _determined(self.lines, self.suppressed), key=self.rank.__getitem__
            ):
                if touched.intersection(self.lines_of[entry]):
                    continue
                choice = self.nearest(entry)
                if choice is not None:
                    self.suppressed[choice] = True
                    touched.update(self.lines_of[choice])
            if not touched:
                return self.suppressed

    def balance(self) -> None:
        """Apply rule 4a until every equation satisfies it or is wholly suppressed."""
        suppressed = self.suppressed
        pending = list(range(len(self.lines)))
        queued = set(pending)
        while pending:
            index = heapq.heappop(pending)
            queued.discard(index)
            line = self.lines[index]
            hidden = [e for e in (line.total, *line.members) if suppressed[e]]
            if not hidden or (len(hidden) >= 2 and sum(self.values[e] for e in hidden) >= self.k):
                continue
            published = (m for m in line.members if not suppressed[m])
            choice = min(published, key=self.rank.__getitem__, default=None)
            if choice is None:
                if suppressed[line.total]:
                    continue
                choice = line.total
            suppressed[choice] = True
            for other in self.lines_of[choice]:
                if other not in queued:
                    queued.add(other)
                    heapq.heappush(pending, other)

    def nearest(self, entry: int) -> int | None:
        """The smallest published entry in the equations of ``entry``, searching outwards."""
        lines, suppressed = self.lines, self.suppressed
        seen_lines: set[int] = set(self.lines_of[entry])
        seen_entries = {entry}
        frontier = sorted(seen_lines)
        while frontier:
            members = [m for i in frontier for m in lines[i].members if not suppressed[m]]
            if members:
                return min(members, key=self.rank.__getitem__)
            totals = [lines[i].total for i in frontier if not suppressed[lines[i].total]]
            if totals:
                return min(totals, key=self.rank.__getitem__)
            reached: set[int] = set()
            for i in frontier:
                for e in (lines[i].total, *lines[i].members):
                    if e not in seen_entries:
                        seen_entries.add(e)
                        reached.update(j for j in self.lines_of[e] if j not in seen_lines)
            seen_lines |= reached
            frontier = sorted(reached)
        return None


def _suppress(
    values: Sequence[int], rank: Sequence[int], lines: Sequence[_Line], k: int
) -> list[bool]:
    """Suppression flags for nonzero entries tied by ``lines`` (rules 1 and 4)."""
    return _Suppression(values, rank, lines, k).run()


def _given(
    sums: Mapping[str, int], given: Mapping[str, int] | None, kind: str
) -> Mapping[str, int]:
    """The margins to use: the sums of the cells, or the given ones, which must have a nonzero
    value exactly where the cells do."""
    if given is None:
        return sums
    nonzero = {key for key, value in sums.items() if value}
    for key, value in given.items():
        _check_count((kind, key), value)
    if {key for key, value in given.items() if value} != nonzero:
        raise ValueError(f"the {kind} totals given do not match the nonzero {kind}s of the cells")
    return given


def protect(
    cells: Mapping[tuple[str, str], int], k: int, margins: Margins | None = None
) -> Protected:
    """Two-way table (row key, column key) -> count, with margins (their sums, or ``margins``)."""
    _check_threshold(k)
    row_sums: dict[str, int] = {}
    column_sums: dict[str, int] = {}
    for (row, column), value in cells.items():
        _check_count((row, column), value)
        row_sums[row] = row_sums.get(row, 0) + value
        column_sums[column] = column_sums.get(column, 0) + value
    grand = sum(row_sums.values())
    if margins is not None:
        row_sums = dict(_given(row_sums, margins.rows, "row"))
        column_sums = dict(_given(column_sums, margins.columns, "column"))
        if margins.total is not None:
            _check_count("total", margins.total)
            if (margins.total == 0) != (grand == 0):
                raise ValueError("the grand total given is zero exactly when the cells are not")
            grand = margins.total
    if grand < k:
        return Protected(cells={}, rows={}, columns={}, total=None)

    keys: list[tuple[int, int, tuple[str, ...]]] = []

    def add(kind: int, key: tuple[str, ...], value: int) -> int:
        keys.append((value, kind, key))
        return len(keys) - 1

    grand_entry = add(_GRAND, (), grand)
    row_entries = {r: add(_ROW, (r,), v) for r, v in sorted(row_sums.items()) if v}
    column_entries = {c: add(_COLUMN, (c,), v) for c, v in sorted(column_sums.items()) if v}
    cell_entries = {key: add(_CELL, key, v) for key, v in sorted(cells.items()) if v}
    by_row: dict[str, list[int]] = {r: [] for r in row_entries}
    by_column: dict[str, list[int]] = {c: [] for c in column_entries}
    for (row, column), entry in cell_entries.items():
        by_row[row].append(entry)
        by_column[column].append(entry)
    lines = [
        *(_Line(row_entries[r], tuple(members)) for r, members in by_row.items()),
        *(_Line(column_entries[c], tuple(members)) for c, members in by_column.items()),
        _Line(grand_entry, tuple(row_entries.values())),
        _Line(grand_entry, tuple(column_entries.values())),
    ]
    values = [key[0] for key in keys]
    suppressed = _suppress(values, _ranks(keys), lines, k)
    return Protected(
        cells={key: values[e] for key, e in cell_entries.items() if not suppressed[e]},
        rows={r: values[e] for r, e in row_entries.items() if not suppressed[e]},
        columns={c: values[e] for c, e in column_entries.items() if not suppressed[e]},
        total=None if suppressed[grand_entry] else grand,
    )


def protect_counts(
    counts: Mapping[str, int], k: int, *, additive: bool = True, total: int | None = None
) -> tuple[dict[str, int], int | None]:
    """One-way table: the published counts and the published total.

    With ``additive`` the categories partition the population and the total is the sum of the
    counts, or ``total`` where given; otherwise they overlap, only primary suppression applies
    and the total is ``None``.
    """
    _check_threshold(k)
    for key, value in counts.items():
        _check_count(key, value)
    if not additive:
        if total is not None:
            raise ValueError("overlapping categories have no total")
        return {key: value for key, value in sorted(counts.items()) if value >= k}, None
    summed = sum(counts.values())
    if total is None:
        total = summed
    else:
        _check_count("total", total)
        if (total == 0) != (summed == 0):
            raise ValueError("the total given is zero exactly when the counts are not")
    if total < k:
        return {}, None
    keys: list[tuple[int, int, tuple[str, ...]]] = [(total, _GRAND, ())]
    cell_entries: dict[str, int] = {}
    for key, value in sorted(counts.items()):
        if value:
            cell_entries[key] = len(keys)
            keys.append((value, _CELL, (key,)))
    values = [key[0] for key in keys]
    lines = [_Line(0, tuple(cell_entries.values()))]
    suppressed = _suppress(values, _ranks(keys), lines, k)
    return (
        {key: values[e] for key, e in cell_entries.items() if not suppressed[e]},
        None if suppressed[0] else total,
    )


def rounded(value: int, base: int, k: int) -> int:
    """Round to the nearest multiple of base (half up); a result below k goes up.

    A result below ``k`` becomes the smallest multiple of ``base`` that is at least ``k``. Base 1
    returns the value unchanged. Only published counts are rounded, and those are zero or at
    least ``k``: a value with ``0 < value < k`` is suppressed, never rounded, and raises
    :class:`ValueError`.
    """
    _check_threshold(k)
    if base < 1:
        raise ValueError(f"rounding base must be at least 1, got {base}")
    _check_count("value", value)
    if 0 < value < k:
        raise ValueError(f"value {value} is below the threshold {k} and must be suppressed")
    if base == 1 or value == 0:
        return value
    result = (2 * value + base) // (2 * base) * base
    if result < k:
        result = -(-k // base) * base
    return result
