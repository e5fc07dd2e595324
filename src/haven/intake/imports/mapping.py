"""Column mappings: which column header feeds which field, and the mappings Haven knows by name."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from haven.errors import ValidationFailed

FIELDS: tuple[str, ...] = (
    "year",
    "date",
    "origin_state",
    "host_state",
    "tactic",
    "target_profile",
    "host_involvement",
    "sources",
    "title",
    "narrative",
)


_SHOWN_LENGTH = 40


def _header_key(header: str) -> str:
    """Headers match case-insensitively, ignoring surrounding and repeated spaces."""
    return " ".join(header.split()).casefold()


def _quoted(header: str) -> str:
    """A sheet's header as a message quotes it: short, and without characters that a terminal
    would act on."""
    shown = "".join(
        c if c.isprintable() else "\N{REPLACEMENT CHARACTER}" for c in header[:_SHOWN_LENGTH]
    )
    return f'"{shown}…"' if len(header) > _SHOWN_LENGTH else f'"{shown}"'


@dataclass(frozen=True, slots=True)
class Mapping:
    """Which column header feeds which field. ``optional`` names fields whose column may be
    missing from a sheet (their cells then count as empty); any other column the mapping names
    must be in the sheet."""

    name: str
    columns: tuple[tuple[str, str], ...]
    optional: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        fields = [name for name, _ in self.columns]
        unknown = [name for name in fields if name not in FIELDS]
        if unknown:
            raise ValidationFailed(
                f"the mapping names unknown fields: {', '.join(map(repr, unknown))}",
                hint=f"the fields are: {', '.join(FIELDS)}",
            )
        if len(set(fields)) != len(fields):
            raise ValidationFailed("the mapping names a field twice")
        headers = [_header_key(header) for _, header in self.columns]
        if "" in headers:
            raise ValidationFailed("the mapping gives a field an empty column header")
        if len(set(headers)) != len(headers):
            raise ValidationFailed("the mapping feeds two fields from the same column")
        missing = [name for name in ("origin_state", "tactic") if name not in fields]
        if "year" not in fields and "date" not in fields:
            missing.append("year or date")
        if missing:
            raise ValidationFailed(
                f"the mapping must name a column for: {', '.join(missing)}",
                hint="origin_state, tactic and year (or date) are required",
            )

    @classmethod
    def of(
        cls, name: str, columns: dict[str, str], optional: frozenset[str] = frozenset()
    ) -> Mapping:
        return cls(name, tuple(columns.items()), optional)

    @classmethod
    def from_json(cls, text: str | bytes, name: str = "custom") -> Mapping:
        """A mapping from a JSON object ``{"field": "Column header", ...}``."""
        try:
            raw = json.loads(text)
        except (ValueError, RecursionError):  # bad JSON, bad UTF-8, a 5,000-digit number, [[[[
            raise ValidationFailed(
                "the mapping file is not valid JSON",
                hint='write an object such as {"year": "Year", "origin_state": "From"}',
            ) from None
        if not isinstance(raw, dict) or not all(
            isinstance(key, str) and isinstance(value, str) for key, value in raw.items()
        ):
            raise ValidationFailed(
                "the mapping file must hold one JSON object of field names to column headers",
                hint='for example {"year": "Year", "origin_state": "From", "tactic": "What"}',
            )
        return cls.of(name, raw)

    def header(self, name: str) -> str | None:
        return dict(self.columns).get(name)

    def resolve(self, headers: Sequence[str]) -> dict[str, int]:
        """The position of each mapped field's column in ``headers``; refuses the sheet when a
        column the mapping needs is missing or appears twice."""
        positions: dict[str, list[int]] = {}
        for index, header in enumerate(headers):
            positions.setdefault(_header_key(header), []).append(index)
        found: dict[str, int] = {}
        missing: list[str] = []
        for name, header in self.columns:
            places = positions.get(_header_key(header), [])
            if len(places) > 1:
                raise ValidationFailed(
                    f'the sheet has the column "{header}" more than once',
                    hint="give each column a header of its own",
                )
            if places:
                found[name] = places[0]
            elif name not in self.optional:
                missing.append(f'"{header}" (for {name})')
        if missing:
            present = ", ".join(_quoted(h) for h in headers[:20] if h) or "none"
            raise ValidationFailed(
                f"the sheet has no column {', '.join(missing)}",
                hint=f"its columns are: {present}; choose another mapping or rename the column",
            )
        lacking = [name for name in ("origin_state", "tactic") if name not in found]
        if "year" not in found and "date" not in found:
            lacking.append("year or date")
        if lacking:
            raise ValidationFailed(
                f"the sheet has no column for: {', '.join(lacking)}",
                hint=f"the {self.name} mapping reads the columns "
                + ", ".join(f'"{header}"' for _, header in self.columns),
            )
        return found


FREEDOM_HOUSE = Mapping.of(
    "Freedom House",
    {
        "year": "Year",
        "origin_state": "Origin Country",
        "host_state": "Host Country",
        "tactic": "Tactic",
        "target_profile": "Target Profile",
        "host_involvement": "Host Country Involvement",
        "sources": "Sources",
    },
)
# Headers equal the field names; only the required columns must be present.
HAVEN_COLUMNS = Mapping.of(
    "Haven columns",
    {name: name for name in FIELDS},
    optional=frozenset(FIELDS) - {"origin_state", "tactic"},
)
READY_MAPPINGS: dict[str, Mapping] = {"freedom-house": FREEDOM_HOUSE, "haven": HAVEN_COLUMNS}


def load_mapping(spec: str) -> Mapping:
    """A ready mapping by name (freedom-house, haven) or a JSON mapping file's path."""
    ready = READY_MAPPINGS.get(spec.strip().casefold())
    if ready is not None:
        return ready
    return Mapping.from_json(Path(spec).read_bytes(), name=spec)
