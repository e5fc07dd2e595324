"""The list of statistics holds together: every figure reads dimensions its source has, and
whatever the open statistics and the annual report look up for a figure is there."""

from __future__ import annotations

import pytest

from haven.insight.charts import KINDS
from haven.insight.specs import (
    BY_NAME,
    DIMENSIONS,
    OPEN_STATISTICS,
    SOURCES,
    STATISTICS,
    Statistic,
    one_way,
)

IDS = [statistic.name for statistic in STATISTICS]


def test_names_are_unique_and_every_source_is_read() -> None:
    assert len(BY_NAME) == len(STATISTICS)
    assert {statistic.source for statistic in STATISTICS} == set(SOURCES)


@pytest.mark.parametrize("statistic", STATISTICS, ids=IDS)
def test_a_statistic_reads_dimensions_its_source_has(statistic: Statistic) -> None:
    assert set(statistic.dimensions) <= set(statistic.source.dimensions)
    assert all(dimension in DIMENSIONS for dimension in statistic.dimensions)
    assert [statistic.source.dimensions[p] for p in statistic.positions] == list(
        statistic.dimensions
    )


@pytest.mark.parametrize("statistic", STATISTICS, ids=IDS)
def test_the_chart_fits_the_dimensions(statistic: Statistic) -> None:
    assert statistic.chart in KINDS
    assert (statistic.chart == "heatmap") == (len(statistic.dimensions) == 2)


MARGINS = [statistic for statistic in STATISTICS if statistic.part_of]


@pytest.mark.parametrize("statistic", MARGINS, ids=[statistic.name for statistic in MARGINS])
def test_a_margin_is_protected_with_a_published_two_way_table_it_sums(
    statistic: Statistic,
) -> None:
    assert statistic.part_of is not None
    whole = BY_NAME[statistic.part_of]
    assert statistic.published
    assert whole.published
    assert statistic.dimensions[0] in whole.dimensions
    assert len(statistic.dimensions) == 1
    assert len(whole.dimensions) == 2
    assert whole.source == statistic.source
    assert whole.additive == statistic.additive


def test_a_two_way_table_by_year_has_the_one_way_table_the_report_cuts_it_to() -> None:
    for statistic in STATISTICS:
        if "year" in statistic.dimensions and len(statistic.dimensions) == 2:
            (other,) = set(statistic.dimensions) - {"year"}
            assert one_way(other).dimensions == (other,)


def test_the_open_statistics_are_the_published_ones_in_order() -> None:
    assert [s.name for s in OPEN_STATISTICS] == [s.name for s in STATISTICS if s.published]
    assert BY_NAME["origin"].csv_name == "haven-origin.csv"
    assert BY_NAME["origin"].open_csv_name == "haven-open-origin.csv"
