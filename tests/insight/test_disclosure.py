"""Disclosure control: hand-made tables with known answers, and random tables checked against an
independent model of what an attacker can work out from the published figures.

The attacker knows every published entry, knows which cells are zero and knows the equations
(margins are sums of cells). Where margins are given apart from their cells (open statistics
perturb each entry apart), the attacker is taken to believe the equations all the same. A
suppressed entry is recomputable when every solution of the equations gives it the same value;
the model decides this with exact rational arithmetic.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from haven.insight.disclosure import Margins, Protected, protect, protect_counts, rounded

# An entry of a table: ("cell", row, column), ("row", row), ("column", column) or ("total",).
Entry = tuple[str, ...]
Equation = tuple[Entry, list[Entry]]  # total, members: total = sum of members


# --- hand-made tables ---------------------------------------------------------------------------


def test_one_way_small_count_recoverable_from_total_takes_a_second_one_with_it() -> None:
    counts = {"CN": 40, "RU": 25, "IR": 3, "TR": 9, "BY": 0}
    # IR alone would be the total minus the published counts, so the next smallest goes too.
    assert protect_counts(counts, 5) == ({"CN": 40, "RU": 25}, 77)


def test_one_way_without_small_counts_is_published_whole() -> None:
    assert protect_counts({"a": 5, "b": 7, "c": 0}, 5) == ({"a": 5, "b": 7}, 12)


def test_one_way_two_small_counts_summing_below_k_take_a_third() -> None:
    assert protect_counts({"a": 1, "b": 2, "c": 6, "d": 30}, 5) == ({"d": 30}, 39)


def test_two_way_single_small_cell_is_hidden_in_a_rectangle() -> None:
    table = {
        ("A", "x"): 10, ("A", "y"): 2, ("A", "z"): 8,
        ("B", "x"): 12, ("B", "y"): 6, ("B", "z"): 7,
        ("C", "x"): 11, ("C", "y"): 9, ("C", "z"): 15,
    }  # fmt: skip
    assert protect(table, 5) == Protected(
        cells={("A", "x"): 10, ("B", "x"): 12, ("C", "x"): 11, ("C", "y"): 9, ("C", "z"): 15},
        rows={"A": 20, "B": 25, "C": 35},
        columns={"x": 33, "y": 17, "z": 30},
        total=80,
    )


def test_two_way_cell_fixed_by_the_equations_alone_is_protected_further() -> None:
    # Every line holds at least two small cells, yet (B, y) follows from the margins: rows and
    # columns give Bw + Bx, and row B then gives By. One more cell of row B must go.
    rows = {
        "A": {"w": 2, "x": 2, "y": 21, "z": 24},
        "B": {"w": 2, "x": 2, "y": 2, "z": 20},
        "C": {"w": 25, "x": 26, "y": 2, "z": 2},
        "D": {"w": 27, "x": 28, "y": 2, "z": 2},
    }
    table = {(r, c): v for r, line in rows.items() for c, v in line.items()}
    small_only = Protected(
        cells={key: v for key, v in table.items() if v >= 3},
        rows={r: sum(line.values()) for r, line in rows.items()},
        columns={c: sum(rows[r][c] for r in rows) for c in "wxyz"},
        total=sum(table.values()),
    )
    assert _recomputable(table, small_only) == {("cell", "B", "y")}
    protected = protect(table, 3)
    assert protected.cells == {
        ("A", "y"): 21, ("A", "z"): 24,
        ("C", "w"): 25, ("C", "x"): 26,
        ("D", "w"): 27, ("D", "x"): 28,
    }  # fmt: skip
    assert protected.rows == {"A": 49, "B": 26, "C": 55, "D": 59}
    assert protected.columns == {"w": 56, "x": 58, "y": 27, "z": 48}
    assert protected.total == 189
    assert _recomputable(table, protected) == set()


def test_two_way_small_margin_is_suppressed_with_its_cells() -> None:
    # Row B (3) and its one cell are below k; hiding them spreads through every line of this
    # small table until only the grand total is left.
    table = {("A", "x"): 20, ("A", "y"): 30, ("B", "x"): 3, ("B", "y"): 0}
    protected = protect(table, 5)
    assert protected == Protected(cells={}, rows={}, columns={}, total=53)
    _assert_safe(table, protected, 5)


def test_grand_total_below_k_publishes_nothing() -> None:
    empty = Protected(cells={}, rows={}, columns={}, total=None)
    assert protect({("a", "x"): 1, ("a", "y"): 2, ("b", "x"): 0}, 5) == empty
    assert protect({}, 5) == empty
    assert protect_counts({"a": 1, "b": 2}, 5) == ({}, None)
    assert protect_counts({}, 5) == ({}, None)


def test_overlapping_categories_get_primary_suppression_only() -> None:
    tactics = {"threats": 12, "surveillance": 3, "detention": 7, "abduction": 0}
    assert protect_counts(tactics, 5, additive=False) == ({"detention": 7, "threats": 12}, None)
    # The same counts as a partition would also hide detention, the smallest one left.
    assert protect_counts(tactics, 5) == ({"threats": 12}, 22)


@pytest.mark.parametrize(
    ("value", "base", "k", "expected"),
    [
        (7, 1, 5, 7),
        (0, 5, 5, 0),
        (5, 5, 5, 5),
        (7, 5, 5, 5),
        (8, 5, 5, 10),
        (12, 5, 5, 10),
        (13, 5, 5, 15),
        (15, 10, 5, 20),
        (6, 4, 5, 8),
        (6, 5, 6, 10),
        (7, 5, 6, 10),
        (8, 5, 6, 10),
        (11, 10, 11, 20),
    ],
)
def test_rounded(value: int, base: int, k: int, expected: int) -> None:
    assert rounded(value, base, k) == expected


def test_rounded_refuses_counts_below_k_which_are_suppressed_not_rounded() -> None:
    with pytest.raises(ValueError, match="suppressed"):
        rounded(3, 5, 5)
    with pytest.raises(ValueError, match="suppressed"):
        rounded(3, 1, 5)


@pytest.mark.parametrize(
    "call",
    [
        lambda: protect({("a", "x"): -1}, 5),
        lambda: protect({("a", "x"): 10}, 0),
        lambda: protect_counts({"a": -1}, 5),
        lambda: rounded(10, 0, 5),
        lambda: rounded(-10, 5, 5),
    ],
)
def test_invalid_input_is_refused(call: Callable[[], object]) -> None:
    with pytest.raises(ValueError, match=r"must be|negative"):
        call()


@given(k=st.integers(1, 20), base=st.integers(1, 12), value=st.integers(0, 500))
@settings(max_examples=200, deadline=None)
def test_rounded_properties(k: int, base: int, value: int) -> None:
    if 0 < value < k:
        return
    result = rounded(value, base, k)
    if base == 1 or value == 0:
        assert result == value
        return
    assert result % base == 0
    assert result >= k
    nearest = (2 * value + base) // (2 * base) * base
    assert result == max(nearest, -(-k // base) * base)


# --- independent model of the attacker ---------------------------------------------------------


def _entries_2way(table: Mapping[tuple[str, str], int]) -> tuple[dict[Entry, int], list[Equation]]:
    rows = sorted({r for r, _ in table})
    columns = sorted({c for _, c in table})
    values: dict[Entry, int] = {("total",): sum(table.values())}
    for r in rows:
        values["row", r] = sum(v for (rr, _), v in table.items() if rr == r)
    for c in columns:
        values["column", c] = sum(v for (_, cc), v in table.items() if cc == c)
    for (r, c), v in table.items():
        values["cell", r, c] = v
    equations: list[Equation] = []
    for r in rows:
        equations.append((("row", r), [("cell", r, c) for (rr, c) in table if rr == r]))
    for c in columns:
        equations.append((("column", c), [("cell", r, c) for (r, cc) in table if cc == c]))
    equations.append((("total",), [("row", r) for r in rows]))
    equations.append((("total",), [("column", c) for c in columns]))
    return values, equations


def _published_2way(protected: Protected) -> dict[Entry, int]:
    published: dict[Entry, int] = {("cell", r, c): v for (r, c), v in protected.cells.items()}
    published.update({("row", r): v for r, v in protected.rows.items()})
    published.update({("column", c): v for c, v in protected.columns.items()})
    if protected.total is not None:
        published["total",] = protected.total
    return published


def _reduced(matrix: list[list[Fraction]]) -> list[int]:
    """Bring ``matrix`` to reduced row echelon form in place; the pivot columns, in order."""
    pivots: list[int] = []
    for col in range(len(matrix[0]) if matrix else 0):
        rank = len(pivots)
        found = next((i for i in range(rank, len(matrix)) if matrix[i][col] != 0), None)
        if found is None:
            continue
        matrix[rank], matrix[found] = matrix[found], matrix[rank]
        lead = matrix[rank][col]
        matrix[rank] = [x / lead for x in matrix[rank]]
        for i, row in enumerate(matrix):
            if i != rank and row[col] != 0:
                factor = row[col]
                matrix[i] = [x - factor * y for x, y in zip(row, matrix[rank], strict=True)]
        pivots.append(col)
    return pivots


def _signed(total: Entry, members: list[Entry]) -> list[tuple[Entry, int]]:
    return [(total, 1), *((m, -1) for m in members)]


def _fixed_entries(
    values: Mapping[Entry, int], published: Mapping[Entry, int], equations: list[Equation]
) -> set[Entry]:
    """Hidden nonzero entries that take the same value in every solution of the equations.

    Known: published entries and zeros. The solutions of the equations are the true values
    plus the null space of the matrix over the hidden entries; an entry is fixed when every
    null space vector is zero there. The null space basis comes from a reduced row echelon form
    over the rationals, and each basis vector is checked against the equations directly.
    """
    hidden = sorted(e for e, v in values.items() if v and e not in published)
    position = {e: i for i, e in enumerate(hidden)}
    matrix: list[list[Fraction]] = []
    for total, members in equations:
        row = [Fraction(0)] * len(hidden)
        for entry, sign in _signed(total, members):
            if entry in position:
                row[position[entry]] += sign
        matrix.append(row)
    pivots = _reduced(matrix)
    basis: list[list[Fraction]] = []
    for f in sorted(set(range(len(hidden))) - set(pivots)):
        vector = [Fraction(0)] * len(hidden)
        vector[f] = Fraction(1)
        for i, p in enumerate(pivots):
            vector[p] = -matrix[i][f]
        basis.append(vector)
    for vector in basis:
        for total, members in equations:
            terms = [s * vector[position[e]] for e, s in _signed(total, members) if e in position]
            assert sum(terms, Fraction(0)) == 0
    return {e for e in hidden if all(v[position[e]] == 0 for v in basis)}


def _recomputable(table: Mapping[tuple[str, str], int], protected: Protected) -> set[Entry]:
    values, equations = _entries_2way(table)
    return _fixed_entries(values, _published_2way(protected), equations)


def _assert_line_sums(
    values: Mapping[Entry, int],
    published: Mapping[Entry, int],
    equations: list[Equation],
    k: int,
) -> None:
    for total, members in equations:
        line = [total, *members]
        hidden = [values[e] for e in line if values[e] and e not in published]
        if not hidden:
            continue
        if not any(values[e] and e in published for e in line):
            continue  # every nonzero entry of the line is suppressed; nothing more to hide
        assert len(hidden) >= 2, (total, hidden)
        assert sum(hidden) >= k, (total, hidden)


def _assert_published_values(
    values: Mapping[Entry, int], published: Mapping[Entry, int], k: int
) -> None:
    for entry, value in published.items():
        assert value >= k, entry
        assert values[entry] == value, entry


def _assert_safe(table: Mapping[tuple[str, str], int], protected: Protected, k: int) -> None:
    values, equations = _entries_2way(table)
    published = _published_2way(protected)
    if values["total",] < k:
        assert protected == Protected(cells={}, rows={}, columns={}, total=None)
        return
    _assert_published_values(values, published, k)
    _assert_line_sums(values, published, equations, k)
    assert _fixed_entries(values, published, equations) == set()


# --- random tables -----------------------------------------------------------------------------

COUNTS = st.one_of(st.just(0), st.integers(1, 4), st.integers(1, 12), st.integers(0, 60))


@st.composite
def two_way_tables(draw: st.DrawFn) -> dict[tuple[str, str], int]:
    n_rows = draw(st.integers(1, 8))
    n_columns = draw(st.integers(1, 8))
    counts = draw(st.lists(COUNTS, min_size=n_rows * n_columns, max_size=n_rows * n_columns))
    keep = draw(st.lists(st.booleans(), min_size=n_rows * n_columns, max_size=n_rows * n_columns))
    return {
        (f"r{i}", f"c{j}"): counts[i * n_columns + j]
        for i in range(n_rows)
        for j in range(n_columns)
        if counts[i * n_columns + j] or keep[i * n_columns + j]
    }


@given(table=two_way_tables(), k=st.integers(2, 10))
@settings(max_examples=400, deadline=None)
def test_two_way_tables_reveal_no_one(table: dict[tuple[str, str], int], k: int) -> None:
    protected = protect(table, k)
    _assert_safe(table, protected, k)
    assert protect(dict(reversed(table.items())), k) == protected


@given(counts=st.dictionaries(st.sampled_from("abcdefghijkl"), COUNTS), k=st.integers(2, 10))
@settings(max_examples=200, deadline=None)
def test_one_way_partition_reveals_no_one(counts: dict[str, int], k: int) -> None:
    published, total = protect_counts(counts, k)
    values: dict[Entry, int] = {("cell", key): v for key, v in counts.items()}
    values["total",] = sum(counts.values())
    equations: list[Equation] = [(("total",), [("cell", key) for key in counts])]
    known: dict[Entry, int] = {("cell", key): v for key, v in published.items()}
    if total is not None:
        known["total",] = total
    if values["total",] < k:
        assert (published, total) == ({}, None)
        return
    _assert_published_values(values, known, k)
    _assert_line_sums(values, known, equations, k)
    assert _fixed_entries(values, known, equations) == set()
    assert protect_counts(dict(reversed(counts.items())), k) == (published, total)


@given(counts=st.dictionaries(st.sampled_from("abcdefghijkl"), COUNTS), k=st.integers(2, 10))
@settings(max_examples=100, deadline=None)
def test_one_way_overlapping_categories_only_hide_small_counts(
    counts: dict[str, int], k: int
) -> None:
    assert protect_counts(counts, k, additive=False) == (
        {key: v for key, v in counts.items() if v >= k},
        None,
    )


# --- margins given apart from their cells ------------------------------------------------------


def test_given_margins_are_published_as_given() -> None:
    table = {("A", "x"): 10, ("A", "y"): 7, ("B", "x"): 6, ("B", "y"): 9}
    margins = Margins(rows={"A": 18, "B": 14}, columns={"x": 17, "y": 15}, total=31)
    assert protect(table, 5, margins) == Protected(
        cells=table, rows={"A": 18, "B": 14}, columns={"x": 17, "y": 15}, total=31
    )
    # Only the given parts replace the sums.
    assert protect(table, 5, Margins(total=33)).total == 33
    assert protect(table, 5, Margins(total=33)).rows == {"A": 17, "B": 15}


def test_a_given_margin_below_k_is_withheld_though_its_cells_sum_to_more() -> None:
    table = {("A", "x"): 3, ("A", "y"): 3, ("B", "x"): 20, ("B", "y"): 30}
    margins = Margins(rows={"A": 4, "B": 52}, columns={"x": 22, "y": 33}, total=55)
    protected = protect(table, 5, margins)
    assert "A" not in protected.rows
    _assert_safe_given(table, margins, protected, 5)


def test_nothing_is_published_when_the_given_total_is_below_k() -> None:
    table = {("A", "x"): 3, ("A", "y"): 2}
    assert protect(table, 5, Margins(total=4)) == Protected(
        cells={}, rows={}, columns={}, total=None
    )
    assert protect_counts({"a": 3, "b": 2}, 5, total=4) == ({}, None)
    assert protect_counts({"a": 30, "b": 20}, 5, total=52) == ({"a": 30, "b": 20}, 52)


@pytest.mark.parametrize(
    "call",
    [
        lambda: protect({("A", "x"): 3}, 5, Margins(rows={"B": 3})),
        lambda: protect({("A", "x"): 3}, 5, Margins(rows={"A": 0})),
        lambda: protect({("A", "x"): 3}, 5, Margins(columns={"x": -1})),
        lambda: protect({("A", "x"): 3}, 5, Margins(total=0)),
        lambda: protect({("A", "x"): 0}, 5, Margins(total=4)),
        lambda: protect_counts({"a": 3}, 5, total=0),
        lambda: protect_counts({"a": 3}, 5, additive=False, total=3),
    ],
)
def test_given_margins_that_do_not_fit_the_cells_are_refused(call: Callable[[], object]) -> None:
    with pytest.raises(ValueError, match=r"do not match|negative|zero exactly when|no total"):
        call()


def _given_values(
    table: Mapping[tuple[str, str], int], margins: Margins
) -> tuple[dict[Entry, int], list[Equation]]:
    values, equations = _entries_2way(table)
    for r, v in (margins.rows or {}).items():
        values["row", r] = v
    for c, v in (margins.columns or {}).items():
        values["column", c] = v
    if margins.total is not None:
        values["total",] = margins.total
    return values, equations


def _assert_safe_given(
    table: Mapping[tuple[str, str], int], margins: Margins, protected: Protected, k: int
) -> None:
    values, equations = _given_values(table, margins)
    published = _published_2way(protected)
    if values["total",] < k:
        assert protected == Protected(cells={}, rows={}, columns={}, total=None)
        return
    _assert_published_values(values, published, k)
    _assert_line_sums(values, published, equations, k)
    assert _fixed_entries(values, published, equations) == set()


@st.composite
def tables_with_margins(
    draw: st.DrawFn,
) -> tuple[dict[tuple[str, str], int], Margins]:
    """A table whose margins and total are its sums moved by up to 8 either way (never below
    one where the sum is not zero), as perturbation moves them."""
    table = draw(two_way_tables())
    values, _ = _entries_2way(table)

    def moved(value: int) -> int:
        return 0 if value == 0 else max(1, value + draw(st.integers(-8, 8)))

    rows = {e[1]: moved(v) for e, v in values.items() if e[0] == "row"}
    columns = {e[1]: moved(v) for e, v in values.items() if e[0] == "column"}
    return table, Margins(rows, columns, moved(values["total",]))


@given(drawn=tables_with_margins(), k=st.integers(2, 10))
@settings(max_examples=300, deadline=None)
def test_tables_with_given_margins_reveal_no_one(
    drawn: tuple[dict[tuple[str, str], int], Margins], k: int
) -> None:
    table, margins = drawn
    _assert_safe_given(table, margins, protect(table, k, margins), k)
