from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from haven.insight.charts import chart_svg
from haven.insight.tables import Table, ordered

STATES = {f"S{i:02d}": f"State {i}" for i in range(57)}


def _by_state(count: int = 57) -> Table:
    return Table(
        name="incidents_by_origin_state",
        title="Incidents by origin state",
        dimensions=("origin_state",),
        rows=ordered({(code,): 600 - 7 * i for i, code in enumerate(list(STATES)[:count])}),
        labels=STATES,
    )


def _by_year() -> Table:
    counts: dict[tuple[str, ...], int] = {
        ("2019",): 30,
        ("2020",): 45,
        ("2021",): 1204,
        ("2022",): 8,
        ("2023",): 12,
    }
    return Table(
        name="incidents_by_year",
        title="Incidents by year",
        dimensions=("year",),
        rows=ordered(counts),
    )


def _by_state_and_tactic(states: int = 25, tactics: int = 6) -> Table:
    tactic_labels = {f"T{j}": f"Tactic {j}" for j in range(tactics)}
    counts: dict[tuple[str, ...], int] = {
        (state, tactic): (i * 7 + j * 3) % 40 + 1
        for i, state in enumerate(list(STATES)[:states])
        for j, tactic in enumerate(tactic_labels)
    }
    return Table(
        name="incidents_by_state_and_tactic",
        title="Incidents by origin state and tactic",
        dimensions=("origin_state", "tactic"),
        rows=ordered(counts),
        labels={**STATES, **tactic_labels},
    )


def _parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    assert "<script" not in svg.lower()
    assert "@import" not in svg
    assert "href" not in svg
    return root


def _texts(root: ET.Element) -> list[str]:
    return ["".join(element.itertext()) for element in root.iter() if element.tag.endswith("text")]


def test_a_bar_chart_shows_the_largest_rows_by_label_with_a_summary() -> None:
    svg = chart_svg(_by_state(57))
    root = _parse(svg)
    texts = _texts(root)

    assert {"State 0", "State 1", "State 2", "State 19"} <= set(texts)
    assert "State 20" not in texts
    assert "S00" not in texts
    assert "top 20 of 57" in texts
    assert "Incidents by origin state" in texts
    label = root.get("aria-label", "")
    assert label.startswith("Bar chart of incidents by origin state; largest: State 0 600")
    assert root.get("role") == "img"


def test_a_bar_chart_within_the_limit_has_no_note() -> None:
    root = _parse(chart_svg(_by_state(5)))

    assert not [text for text in _texts(root) if text.startswith("top ")]
    assert "State 4" in _texts(root)


def test_the_limit_can_be_chosen() -> None:
    root = _parse(chart_svg(_by_state(57), limit=3))

    assert "top 3 of 57" in _texts(root)
    assert "State 3" not in _texts(root)


def test_a_table_by_year_is_a_line_with_years_in_order_and_no_separators() -> None:
    svg = chart_svg(_by_year())
    root = _parse(svg)
    texts = _texts(root)

    years = [text for text in texts if text in {"2019", "2020", "2021", "2022", "2023"}]
    assert years == ["2019", "2020", "2021", "2022", "2023"]
    assert "2,021" not in svg
    assert root.get("aria-label") == (
        "Line chart of incidents by year, 2019 to 2023; highest: 2021 1,204"
    )


def test_a_missing_year_stays_on_the_axis() -> None:
    table = Table("by_year", "Incidents by year", ("year",), ordered({("2018",): 3, ("2020",): 5}))

    assert "2019" in _texts(_parse(chart_svg(table)))


def test_a_two_dimension_table_is_a_heatmap_of_the_largest_rows_and_columns() -> None:
    table = _by_state_and_tactic(25, 6)
    sums: dict[str, int] = {}
    for (state, _), count in table.rows:
        sums[state] = sums.get(state, 0) + count
    by_sum = sorted(sums, key=lambda state: (-sums[state], state))
    root = _parse(chart_svg(table, limit=20))
    texts = _texts(root)

    assert {table.label(state) for state in by_sum[:20]} <= set(texts)
    assert not {table.label(state) for state in by_sum[20:]} & set(texts)
    assert {"Tactic 0", "Tactic 5"} <= set(texts)
    assert "top 20 of 25 origin state" in texts
    label = root.get("aria-label", "")
    assert label.startswith("Heatmap of incidents by origin state and tactic; largest: ")
    (row, column), count = table.rows[0]
    assert f"{table.label(row)}, {table.label(column)}: {count}" in label


def test_a_heatmap_keeps_the_columns_with_the_largest_sums() -> None:
    counts: dict[tuple[str, ...], int] = {
        ("A", "big"): 50,
        ("B", "big"): 40,
        ("A", "small"): 1,
        ("B", "mid"): 9,
    }
    table = Table("t", "Cross", ("origin_state", "tactic"), ordered(counts))
    texts = _texts(_parse(chart_svg(table, limit=2)))

    assert {"big", "mid"} <= set(texts)
    assert "small" not in texts
    assert "top 2 of 3 tactic" in texts


def test_a_heatmap_whose_largest_row_and_column_do_not_meet_still_renders() -> None:
    counts: dict[tuple[str, ...], int] = {
        ("A", "x"): 5,
        ("A", "y"): 5,
        ("B", "z"): 6,
        ("C", "z"): 6,
    }
    table = Table("t", "Cross", ("origin_state", "tactic"), ordered(counts))
    root = _parse(chart_svg(table, limit=1))

    assert "no counts where" in root.get("aria-label", "")


def test_an_empty_table_says_no_data() -> None:
    for dimensions in (("origin_state",), ("year",), ("origin_state", "tactic")):
        table = Table("empty", "Nothing yet", dimensions, ())
        root = _parse(chart_svg(table))
        assert "No data" in _texts(root)
        assert root.get("aria-label") == "Nothing yet: no data"


def test_labels_are_escaped_not_markup() -> None:
    hostile = "<script>alert(1)</script> & co"
    table = Table(
        "t",
        'Title "quoted" <b>',
        ("origin_state",),
        ordered({("X",): 3, ("Y",): 1}),
        labels={"X": hostile},
    )
    root = _parse(chart_svg(table))

    assert hostile in _texts(root)
    assert hostile in root.get("aria-label", "")


def test_codes_sharing_a_label_are_told_apart() -> None:
    table = Table(
        "t",
        "Same name",
        ("origin_state",),
        ordered({("A",): 3, ("B",): 2}),
        labels={"A": "Same", "B": "Same"},
    )
    texts = _texts(_parse(chart_svg(table)))

    assert {"Same (A)", "Same (B)"} <= set(texts)


def test_the_same_table_gives_the_same_svg() -> None:
    table = _by_state_and_tactic(4, 3)
    first = chart_svg(table)
    chart_svg(_by_state_and_tactic(5, 3))  # moves Vega's id counters on

    assert chart_svg(table) == first


def test_a_kind_can_be_forced_and_is_checked() -> None:
    assert "2021" in _texts(_parse(chart_svg(_by_year(), kind="bar")))
    with pytest.raises(ValueError, match="unknown chart kind"):
        chart_svg(_by_year(), kind="pie")
    with pytest.raises(ValueError, match="needs 2 dimension"):
        chart_svg(_by_year(), kind="heatmap")
    with pytest.raises(ValueError, match="needs 1 dimension"):
        chart_svg(_by_state_and_tactic(2, 2), kind="bar")
    with pytest.raises(ValueError, match="limit"):
        chart_svg(_by_year(), limit=0)
