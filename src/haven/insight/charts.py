"""Charts of a :class:`Table` as self-contained SVG, drawn on the server.

The chart is a Vega-Lite specification rendered by vl-convert, so no JavaScript reaches the
browser and the same figure can go into a page, a PDF or a download. The specification is built
as a plain dict (Altair supplies the schema version): validating through Altair's objects costs
more than rendering and adds nothing to a spec built from fixed parts.

Every chart shows labels, never codes, and carries a one-sentence summary as its ``aria-label``.
Bars and heatmaps show at most ``limit`` categories and say so in the subtitle when they leave
some out; a line over years shows every year.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

import altair as alt
import vl_convert as vlc

from haven.insight.tables import Table

__all__ = ["KINDS", "chart_svg"]

KINDS: Final = ("bar", "line", "heatmap")

WIDTH: Final = 560
STEP: Final = 18
BAR_COLOUR: Final = "#35618f"
HEATMAP_SCHEME: Final = "blues"
LABEL_LIMIT: Final = 150
SUMMARY_ITEMS: Final = 3
CELL_TEXT_MAX_COLUMNS: Final = 12

_CONFIG: Final[Mapping[str, Any]] = {
    "font": "sans-serif",
    "background": "white",
    "view": {"stroke": None},
    "title": {"anchor": "start", "fontSize": 14, "subtitleFontSize": 11, "subtitleColor": "#555"},
    "axis": {"labelFontSize": 11, "titleFontSize": 11, "titleFontWeight": "normal"},
    "legend": {"labelFontSize": 11, "titleFontSize": 11, "titleFontWeight": "normal"},
}

# Vega numbers gradients and clip paths from a counter that lives as long as the renderer.
_SVG_ID: Final = re.compile(r'(id="|url\(#)((?:gradient|clip|pattern)_?\d+)')


def chart_svg(table: Table, *, kind: str | None = None, limit: int = 20) -> str:
    """The table as an SVG document: bars, a line over years, or a heatmap of two dimensions.

    ``kind`` defaults to the table's own (``Table.chart``), and without one to ``"line"`` for
    a table by year, ``"bar"`` for any other single dimension and ``"heatmap"`` for two. A
    line shows every year from the first to the last; a year without a row breaks the line
    rather than being drawn as zero. An empty table gives a small SVG saying "No data". Raises
    ``ValueError`` for an unknown kind, a kind that does not fit the table's dimensions, or a
    ``limit`` below 1.
    """
    chosen = kind if kind is not None else table.chart or _default_kind(table)
    if chosen not in KINDS:
        raise ValueError(f"unknown chart kind {chosen!r}; expected one of {', '.join(KINDS)}")
    wanted = 2 if chosen == "heatmap" else 1
    if len(table.dimensions) != wanted:
        raise ValueError(
            f"a {chosen} chart needs {wanted} dimension(s), "
            f"table {table.name!r} has {len(table.dimensions)}"
        )
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    if table.is_empty:
        return _no_data_svg(table)
    if chosen == "bar":
        spec, summary = _bar_spec(table, limit)
    elif chosen == "line":
        spec, summary = _line_spec(table)
    else:
        spec, summary = _heatmap_spec(table, limit)
    svg = vlc.vegalite_to_svg(spec, allowed_base_urls=[])
    return _finish(svg, spec, table.title, summary)


def _default_kind(table: Table) -> str:
    if len(table.dimensions) == 2:
        return "heatmap"
    if table.dimensions == ("year",):
        return "line"
    return "bar"


# --- specifications ----------------------------------------------------------------------------


def _bar_spec(table: Table, limit: int) -> tuple[dict[str, Any], str]:
    shown = table.rows[:limit]
    names = _display_names(table, (key[0] for key, _ in shown))
    values = [{"label": names[key[0]], "count": count} for key, count in shown]
    largest = ", ".join(f"{names[key[0]]} {count:,}" for key, count in shown[:SUMMARY_ITEMS])
    summary = f"Bar chart of {_lower_first(table.title)}; largest: {largest}"
    if len(table.rows) > limit:
        summary += f" (top {limit} of {len(table.rows)} shown)"
    subtitle = f"top {limit} of {len(table.rows)}" if len(table.rows) > limit else ""
    spec = _base(table, summary, subtitle)
    spec.update(
        {
            "width": WIDTH - LABEL_LIMIT - 20,
            "height": {"step": STEP},
            "data": {"values": values},
            "encoding": {
                "y": {
                    "field": "label",
                    "type": "nominal",
                    "sort": [value["label"] for value in values],
                    "title": None,
                    "axis": {"labelLimit": LABEL_LIMIT, "ticks": False, "domain": False},
                },
                "x": {
                    "field": "count",
                    "type": "quantitative",
                    "title": table.measure,
                    "axis": {"tickMinStep": 1, "format": ",d", "grid": True},
                    "scale": {"nice": True},
                },
            },
            "layer": [
                {"mark": {"type": "bar", "color": BAR_COLOUR}},
                {
                    "mark": {"type": "text", "align": "left", "baseline": "middle", "dx": 3},
                    "encoding": {
                        "text": {"field": "count", "type": "quantitative", "format": ",d"}
                    },
                },
            ],
        }
    )
    return spec, summary


def _line_spec(table: Table) -> tuple[dict[str, Any], str]:
    counts = {key[0]: count for key, count in table.rows}
    codes = sorted(counts, key=_code_order)
    if all(code.isdigit() for code in codes):
        # Every year in the range goes on the axis; a year with no figure breaks the line
        # rather than being joined across or drawn as zero.
        codes = [str(year) for year in range(int(codes[0]), int(codes[-1]) + 1)]
    names = _display_names(table, codes)
    values = [{"label": names[code], "count": counts.get(code)} for code in codes]
    top_code, top_count = table.rows[0][0][0], table.rows[0][1]
    span = names[codes[0]] if len(codes) == 1 else f"{names[codes[0]]} to {names[codes[-1]]}"
    summary = (
        f"Line chart of {_lower_first(table.title)}, {span}; "
        f"highest: {names[top_code]} {top_count:,}"
    )
    spec = _base(table, summary, "")
    spec.update(
        {
            "width": WIDTH - 60,
            "height": 240,
            "data": {"values": values},
            "mark": {"type": "line", "color": BAR_COLOUR, "point": {"color": BAR_COLOUR}},
            "encoding": {
                "x": {
                    "field": "label",
                    "type": "ordinal",
                    "sort": [value["label"] for value in values],
                    "title": None,
                    "axis": {"labelAngle": 0 if len(codes) <= 16 else -45},
                },
                "y": {
                    "field": "count",
                    "type": "quantitative",
                    "title": table.measure,
                    "axis": {"tickMinStep": 1, "format": ",d"},
                    "scale": {"zero": True, "nice": True},
                },
            },
        }
    )
    return spec, summary


def _heatmap_spec(table: Table, limit: int) -> tuple[dict[str, Any], str]:
    row_sums: dict[str, int] = {}
    column_sums: dict[str, int] = {}
    for (row, column), count in table.rows:
        row_sums[row] = row_sums.get(row, 0) + count
        column_sums[column] = column_sums.get(column, 0) + count
    rows = _largest(row_sums)[:limit]
    columns = _largest(column_sums)[:limit]
    kept_rows, kept_columns = set(rows), set(columns)
    row_names = _display_names(table, rows)
    column_names = _display_names(table, columns)
    cells = [
        (row_names[row], column_names[column], count)
        for (row, column), count in table.rows
        if row in kept_rows and column in kept_columns
    ]
    values = [{"row": row, "column": column, "count": count} for row, column, count in cells]
    largest = "; ".join(
        f"{row}, {column}: {count:,}" for row, column, count in cells[:SUMMARY_ITEMS]
    )
    summary = f"Heatmap of {_lower_first(table.title)}; " + (
        f"largest: {largest}" if cells else "no counts where the rows and columns shown meet"
    )
    notes = [
        f"top {limit} of {len(sums)} {_dimension_name(dimension)}"
        for dimension, sums in zip(table.dimensions, (row_sums, column_sums), strict=True)
        if len(sums) > limit
    ]
    if notes:
        summary += f" ({'; '.join(notes)} shown)"
    spec = _base(table, summary, "; ".join(notes))
    highest = max((count for _, _, count in cells), default=0)
    layers: list[dict[str, Any]] = [{"mark": {"type": "rect", "stroke": "white"}}]
    if len(columns) <= CELL_TEXT_MAX_COLUMNS:
        layers.append(
            {
                "mark": {"type": "text", "fontSize": 10},
                "encoding": {
                    "text": {"field": "count", "type": "quantitative", "format": ",d"},
                    "color": {
                        "condition": {"test": f"datum.count > {highest / 2}", "value": "white"},
                        "value": "#222",
                    },
                },
            }
        )
    spec.update(
        {
            "width": min(WIDTH - LABEL_LIMIT - 90, 34 * len(columns)),
            "height": {"step": STEP},
            "data": {"values": values},
            "encoding": {
                "y": {
                    "field": "row",
                    "type": "nominal",
                    "sort": [row_names[row] for row in rows],
                    "title": None,
                    "axis": {"labelLimit": LABEL_LIMIT, "ticks": False, "domain": False},
                },
                "x": {
                    "field": "column",
                    "type": "nominal",
                    "sort": [column_names[column] for column in columns],
                    "title": None,
                    "axis": {
                        "orient": "top",
                        "labelAngle": -45,
                        "labelAlign": "left",
                        "labelLimit": 120,
                        "ticks": False,
                        "domain": False,
                    },
                },
                "color": {
                    "field": "count",
                    "type": "quantitative",
                    "title": table.measure,
                    "scale": {"scheme": HEATMAP_SCHEME, "domainMin": 0},
                    "legend": {"format": ",d", "tickMinStep": 1},
                },
            },
            "layer": layers,
        }
    )
    return spec, summary


def _base(table: Table, summary: str, subtitle: str) -> dict[str, Any]:
    title: dict[str, Any] = {"text": table.title}
    if subtitle:
        title["subtitle"] = subtitle
    return {
        "$schema": alt.SCHEMA_URL,
        "description": summary,
        "title": title,
        "config": _CONFIG,
        "padding": 8,
    }


# --- helpers -----------------------------------------------------------------------------------


def _display_names(table: Table, codes: Iterable[str]) -> dict[str, str]:
    """Code -> label shown, telling codes apart when two share a label."""
    codes = list(codes)
    seen: dict[str, int] = {}
    for code in codes:
        seen[table.label(code)] = seen.get(table.label(code), 0) + 1
    return {
        code: table.label(code) if seen[table.label(code)] == 1 else f"{table.label(code)} ({code})"
        for code in codes
    }


def _largest(sums: Mapping[str, int]) -> list[str]:
    return sorted(sums, key=lambda code: (-sums[code], code))


def _code_order(code: str) -> tuple[int, int, str]:
    return (0, int(code), code) if code.isdigit() else (1, 0, code)


def _dimension_name(dimension: str) -> str:
    return dimension.replace("_", " ")


def _lower_first(text: str) -> str:
    """'Incidents by state' -> 'incidents by state', leaving acronyms such as 'UN' alone."""
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        return text[0].lower() + text[1:]
    return text


def _escape(text: str) -> str:
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#39;")
    )


def _finish(svg: str, spec: Mapping[str, Any], title: str, summary: str) -> str:
    """Name the image for assistive technology and give its ids names of its own.

    vl-convert renders the specification's description nowhere, so the summary is put on the
    root element as ``role="img"`` with an ``aria-label`` and a ``<title>``. Vega numbers ids
    from a counter that outlives one chart; they are renamed after the specification, so the
    same table always gives the same SVG and two charts inlined in one page cannot collide.
    """
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:10]
    names: dict[str, str] = {}

    def rename(match: re.Match[str]) -> str:
        found = match.group(2)
        if found not in names:
            names[found] = f"chart-{digest}-{len(names) + 1}"
        return match.group(1) + names[found]

    svg = _SVG_ID.sub(rename, svg)
    start = svg.index("<svg")
    end = svg.index(">", start)
    return (
        f'{svg[:start]}<svg role="img" aria-label="{_escape(summary)}"{svg[start + 4 : end]}>'
        f"<title>{_escape(title)}</title>{svg[end + 1 :]}"
    )


def _no_data_svg(table: Table) -> str:
    title = _escape(table.title)
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" version="1.1" '
        f'width="{WIDTH}" height="80" viewBox="0 0 {WIDTH} 80" role="img" '
        f'aria-label="{title}: no data"><title>{title}</title>'
        f'<rect width="{WIDTH}" height="80" fill="white"/>'
        '<g font-family="sans-serif" fill="#000">'
        f'<text x="8" y="24" font-size="14" font-weight="bold">{title}</text>'
        '<text x="8" y="56" font-size="12" fill="#555">No data</text>'
        "</g></svg>"
    )
