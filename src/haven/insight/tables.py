"""The one shape every figure takes: a table of counts keyed by codes.

Pages, charts, CSV and JSON downloads, the terminal and the annual report all render the same
:class:`Table`, so a figure cannot differ between them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Table:
    """Counts keyed by one or two codes (a country, a tactic, a year), largest first.

    ``total`` is the sum of the counts when the categories do not overlap (every incident has
    one origin state) and ``None`` when they do (an incident may use several tactics), or when
    it is withheld from publication. ``chart`` is the kind of chart drawn of it
    (:func:`haven.insight.charts.chart_svg`); ``None`` lets the dimensions decide.
    """

    name: str
    title: str
    dimensions: tuple[str, ...]
    rows: tuple[tuple[tuple[str, ...], int], ...]
    measure: str = "incidents"
    total: int | None = None
    note: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    chart: str | None = None

    def label(self, code: str) -> str:
        return self.labels.get(code, code)

    @property
    def is_empty(self) -> bool:
        return not self.rows

    def as_dict(self) -> dict[str, object]:
        """The table as JSON-ready data: codes, labels and counts."""
        return {
            "name": self.name,
            "title": self.title,
            "measure": self.measure,
            "dimensions": list(self.dimensions),
            "rows": [
                {
                    **dict(zip(self.dimensions, key, strict=True)),
                    **{
                        f"{dimension}_label": self.label(code)
                        for dimension, code in zip(self.dimensions, key, strict=True)
                    },
                    "count": count,
                }
                for key, count in self.rows
            ],
            "total": self.total,
            "note": self.note,
        }

    def csv_rows(self) -> list[list[str]]:
        """Header and rows for a CSV file: each code beside its label, then the count."""
        header = [part for d in self.dimensions for part in (d, f"{d}_label")] + [self.measure]
        body = [
            [part for code in key for part in (code, self.label(code))] + [str(count)]
            for key, count in self.rows
        ]
        return [header, *body]


def ordered(counts: Mapping[tuple[str, ...], int]) -> tuple[tuple[tuple[str, ...], int], ...]:
    """Rows largest first, then by key, leaving out empty cells."""
    return tuple(
        sorted(
            ((key, count) for key, count in counts.items() if count),
            key=lambda item: (-item[1], item[0]),
        )
    )
