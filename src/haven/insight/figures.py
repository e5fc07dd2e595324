"""The figures: counts and trends by origin, host, tactic, PACE method, target profile, year,
host-state involvement and accusation; cross-tabulations; concentration; response times.

Which figures there are is :data:`haven.insight.specs.STATISTICS`. Every figure counts exactly
the incidents the policy gate lets the reader count
(:func:`haven.access.policy.counted`). Most incidents are decided by their label, contributor and
clearance alone, so they are read from the counts that triggers keep in step
(:mod:`haven.insight.cube`); the few whose counting depends on more (shares, named recipients,
reports, consent statements) are then taken one by one through the gate and the difference applied.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import ColumnElement, case, cast, func, literal, select, union, union_all
from sqlalchemy import String as SqlString
from sqlalchemy.orm import Session, aliased

from haven.access.policy import (
    Reader,
    consent_blocked,
    counted,
    counted_in_bulk,
    counted_otherwise,
    counted_plainly,
)
from haven.casework.models import Referral
from haven.db.dialect import reuses_materialised_ctes
from haven.domain.countries import REGION_NAMES, country_name, region_states
from haven.domain.enums import IncidentStatus, Tlp
from haven.domain.taxonomy import load_taxonomy
from haven.errors import ValidationFailed
from haven.insight import models as cubes
from haven.insight.cube import TARGET, region_keys
from haven.insight.specs import BY_NAME, SOURCES, STATISTICS, Source
from haven.insight.tables import Table, ordered
from haven.intake.models import Report
from haven.registry.models import Contributor, Incident, IncidentPerson, IncidentTactic, Person

NOT_RECORDED = ""
TOP_N = 10
FIRST_YEAR = 1900


@dataclass(frozen=True, slots=True)
class Filters:
    """Which incidents a figure covers: a span of years (of the start of the incident) and a
    region where it happened."""

    year_from: int | None = None
    year_to: int | None = None
    region: str | None = None

    def __post_init__(self) -> None:
        for year in (self.year_from, self.year_to):
            if year is not None and not FIRST_YEAR <= year <= 9999:
                raise ValidationFailed(f"year {year} is out of range")
        if self.year_from and self.year_to and self.year_from > self.year_to:
            raise ValidationFailed("the period ends before it starts")
        if self.region is not None:
            region_states(self.region)

    @property
    def hosts(self) -> frozenset[str] | None:
        return None if self.region is None else region_states(self.region)

    def describe(self) -> str:
        parts = []
        if self.year_from and self.year_to:
            parts.append(f"{self.year_from} to {self.year_to}")
        elif self.year_from:
            parts.append(f"from {self.year_from}")
        elif self.year_to:
            parts.append(f"until {self.year_to}")
        if self.region:
            parts.append(f"in {REGION_NAMES[self.region]}")
        return ", ".join(parts) or "all years, everywhere"


@dataclass(frozen=True, slots=True)
class Presentation:
    """How figures are given: how many origin states the concentration figure counts, and the
    language of the labels."""

    top_n: int = TOP_N
    language: str = "en"


DEFAULT_PRESENTATION = Presentation()


@dataclass(frozen=True, slots=True)
class Concentration:
    """The share of incidents attributed to the N origin states with the most incidents."""

    n: int
    states: tuple[tuple[str, int], ...]
    incidents: int
    total: int
    tied: bool  # the next state has as many incidents as the last one counted

    @property
    def share(self) -> float | None:
        return None if self.total == 0 else self.incidents / self.total


@dataclass(frozen=True, slots=True)
class Response:
    """How fast one member state's authorities (or others) answer referrals."""

    member_state: str
    referrals: int
    acknowledged: int
    ack_median_hours: float | None
    ack_p90_hours: float | None
    actions: int
    action_median_days: float | None
    action_p90_days: float | None
    overdue: int

    @property
    def overdue_share(self) -> float:
        return self.overdue / self.referrals if self.referrals else 0.0


@dataclass(frozen=True, slots=True)
class Figures:
    filters: Filters
    total: int
    tables: dict[str, Table]
    concentration: Concentration
    response: tuple[Response, ...] = field(default_factory=tuple)


# -- labels -------------------------------------------------------------------------------------


def labels(dimension: str, codes: Iterable[str], language: str = "en") -> dict[str, str]:
    """Readable names for codes of a dimension."""
    taxonomy = load_taxonomy()
    names: dict[str, str] = {}
    for code in set(codes):
        if code == NOT_RECORDED:
            names[code] = "not recorded"
        elif dimension in {"origin", "host", "member_state"}:
            names[code] = country_name(code, language)
        elif dimension == "tactic":
            names[code] = next((t.label for t in taxonomy.tactics if t.code == code), code)
        elif dimension == "method":
            names[code] = _term(taxonomy.methods.terms, code)
        elif dimension == "profile":
            names[code] = _term(taxonomy.target_profiles.terms, code)
        else:
            names[code] = code.replace("-", " ")
    return names


def _term(terms: Iterable[Any], code: str) -> str:
    return next((term.label for term in terms if term.code == code), code)


def make_table(
    name: str, counts: Mapping[tuple[str, ...], int], *, total: int | None, language: str = "en"
) -> Table:
    """The table of the statistic called ``name`` (see :data:`~haven.insight.specs.STATISTICS`)
    from its counts."""
    statistic = BY_NAME[name]
    names: dict[str, str] = {}
    for position, dimension in enumerate(statistic.dimensions):
        names.update(labels(dimension, (key[position] for key in counts), language))
    rows = ordered(counts)
    return Table(
        name=name,
        title=statistic.title,
        dimensions=statistic.dimensions,
        rows=tuple(sorted(rows)) if statistic.in_key_order else rows,
        measure=statistic.measure,
        total=total,
        note=statistic.note,
        labels=names,
        chart=statistic.chart,
    )


# -- reading the counts -------------------------------------------------------------------------


def _scope_filters(model: Any, filters: Filters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.year_from:
        conditions.append(model.year >= filters.year_from)
    if filters.year_to:
        conditions.append(model.year <= filters.year_to)
    if filters.region is not None:
        if model is cubes.PlaceCount:
            conditions.append(model.host.in_(sorted(region_states(filters.region))))
        else:
            conditions.append(model.region.in_(region_keys(filters.region)))
    return conditions


def _read(
    session: Session, reader: Reader, model: Any, dimensions: tuple[Any, ...], filters: Filters
) -> Counter[tuple[str, ...]]:
    plain = counted_plainly(reader, model.audience, model.contributor, model.cleared)
    query = (
        select(*dimensions, func.sum(model.n))
        .where(plain, *_scope_filters(model, filters))
        .group_by(*dimensions)
    )
    counts: Counter[tuple[str, ...]] = Counter()
    for row in session.execute(query):
        if row[-1]:
            counts[tuple(str(value) for value in row[:-1])] += int(row[-1])
    return counts


def _incident_scope() -> tuple[ColumnElement[str], ColumnElement[str], ColumnElement[bool]]:
    """The count tables' key columns computed from an incident row."""
    tlp = Incident.tlp
    audience: ColumnElement[str] = case(
        (tlp.in_([Tlp.CLEAR.value, Tlp.GREEN.value, Tlp.RED.value]), cast(tlp, SqlString)),
        else_=literal("amber"),
    )
    contributor: ColumnElement[str] = case(
        (
            tlp.in_([Tlp.AMBER.value, Tlp.AMBER_STRICT.value]),
            cast(Incident.contributor_id, SqlString),
        ),
        else_=literal(""),
    )
    cleared: ColumnElement[bool] = Incident.cleared_for_statistics.expression
    return audience, contributor, cleared


def _incident_filters(filters: Filters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.year_from:
        conditions.append(Incident.occurred_start >= date(filters.year_from, 1, 1))
    if filters.year_to:
        conditions.append(Incident.occurred_start <= date(filters.year_to, 12, 31))
    if filters.hosts is not None:
        conditions.append(Incident.host_state.in_(sorted(filters.hosts)))
    return conditions


@dataclass(slots=True)
class _Counts:
    """The counts read from each source (:data:`~haven.insight.specs.SOURCES`), keyed as the
    source's dimensions."""

    places: Counter[tuple[str, ...]]
    traits: Counter[tuple[str, ...]]
    tactics: Counter[tuple[str, ...]]
    methods: Counter[tuple[str, ...]]
    profiles: Counter[tuple[str, ...]]

    def of(self, source: Source) -> Counter[tuple[str, ...]]:
        counts: Counter[tuple[str, ...]] = getattr(self, source.name)
        return counts


def _year(column: Any) -> Any:
    return func.extract("year", column)


def count(session: Session, reader: Reader, filters: Filters) -> _Counts:
    """Every count the figures need, for the incidents the reader may count."""
    read = {
        source.name: _read(
            session,
            reader,
            source.model,
            tuple(getattr(source.model, dimension) for dimension in source.dimensions),
            filters,
        )
        for source in SOURCES
    }
    counts = _Counts(**read)
    _correct(session, reader, filters, counts)
    return counts


def _correct(session: Session, reader: Reader, filters: Filters, counts: _Counts) -> None:
    """Count the incidents the gate may decide otherwise than the plain rule (those of
    :func:`counted_otherwise` and :func:`consent_blocked`) through the gate in set form
    (:func:`counted_in_bulk`): add what the gate counts and the plain rule does not; take away
    what the plain rule counts and the gate does not."""
    audience, contributor, cleared = _incident_scope()
    by_gate = case((counted_in_bulk(reader), 1), else_=0)
    by_rule = case((counted_plainly(reader, audience, contributor, cleared), 1), else_=0)
    candidates = union(consent_blocked(reader), *counted_otherwise(reader))
    found = select(
        Incident.id.label("id"),
        cast(_year(Incident.occurred_start), SqlString).label("year"),
        cast(Incident.origin_state, SqlString).label("origin"),
        func.coalesce(Incident.host_state, "").label("host"),
        cast(Incident.host_involvement, SqlString).label("involvement"),
        func.coalesce(cast(Incident.accusation, SqlString), "").label("accusation"),
        (by_gate - by_rule).label("delta"),
    ).where(Incident.id.in_(candidates), *_incident_filters(filters))
    if reuses_materialised_ctes(session.connection()):
        _differences_at_once(session, found, counts)
    else:
        _differences_by_key(session, found, counts)


def _year_code(value: object) -> str:
    return str(int(float(str(value))))


# The corrections below give each source's counts in the order of its dimensions.


def _differences_at_once(session: Session, found: Any, counts: _Counts) -> None:
    """The differences in one statement: PostgreSQL finds the differing incidents once (a
    materialised CTE, looked up by key and filtered afterwards, so that the planner does not
    test every incident) and sums every count table's difference from them."""
    candidates = found.cte("candidates").prefix_with("MATERIALIZED")
    differing = select(candidates).where(candidates.c.delta != 0).cte("differing")
    d = differing.c
    total = func.sum(d.delta)
    none = literal("")
    methods = (
        select(d.id, d.delta, cubes.TacticMethod.method)
        .join(IncidentTactic, IncidentTactic.incident_id == d.id)
        .join(cubes.TacticMethod, cubes.TacticMethod.tactic == IncidentTactic.tactic)
        .distinct()
        .subquery()
    )
    parts = union_all(
        select(literal("place"), d.origin, d.host, none, total).group_by(d.origin, d.host),
        select(literal("trait"), d.year, d.involvement, d.accusation, total).group_by(
            d.year, d.involvement, d.accusation
        ),
        select(literal("tactic"), cast(IncidentTactic.tactic, SqlString), d.year, none, total)
        .join(IncidentTactic, IncidentTactic.incident_id == d.id)
        .group_by(IncidentTactic.tactic, d.year),
        select(
            literal("method"),
            cast(methods.c.method, SqlString),
            none,
            none,
            func.sum(methods.c.delta),
        ).group_by(methods.c.method),
        select(
            literal("profile"),
            func.coalesce(cast(Person.profile, SqlString), ""),
            none,
            none,
            total,
        )
        .join(IncidentPerson, IncidentPerson.incident_id == d.id)
        .join(Person, Person.id == IncidentPerson.person_id)
        .where(IncidentPerson.role == TARGET)
        .group_by(Person.profile),
    )
    tables = {
        "place": (counts.places, 2),
        "trait": (counts.traits, 3),
        "tactic": (counts.tactics, 2),
        "method": (counts.methods, 1),
        "profile": (counts.profiles, 1),
    }
    for kind, first, second, third, delta in session.execute(parts):
        target, width = tables[kind]
        key = (first, second, third)[:width]
        if kind == "trait":
            key = (_year_code(first), second, third)
        elif kind == "tactic":
            key = (first, _year_code(second))
        target[key] += int(delta)


CHUNK = 2000


def _differences_by_key(session: Session, found: Any, counts: _Counts) -> None:
    """The differing incidents found in one statement, then the differences of tactics,
    methods and targets summed by the database over the added and the taken-away incidents,
    by key (SQLite would find the differing incidents again for every part of a compound
    statement)."""
    signs: dict[int, list[str]] = {1: [], -1: []}
    for row in session.execute(found):
        if row.delta:
            signs[int(row.delta)].append(row.id)
            counts.places[(row.origin, row.host)] += row.delta
            trait = (_year_code(row.year), row.involvement, row.accusation)
            counts.traits[trait] += row.delta
    year = cast(_year(Incident.occurred_start), SqlString)
    for sign, ids in signs.items():
        for start in range(0, len(ids), CHUNK):
            chunk = sorted(ids[start : start + CHUNK])
            tactics = (
                select(IncidentTactic.tactic, year, func.count())
                .join(Incident, Incident.id == IncidentTactic.incident_id)
                .where(IncidentTactic.incident_id.in_(chunk))
                .group_by(IncidentTactic.tactic, year)
            )
            for tactic, year_value, n in session.execute(tactics):
                counts.tactics[(tactic, _year_code(year_value))] += sign * n
            methods = (
                select(cubes.TacticMethod.method, func.count(IncidentTactic.incident_id.distinct()))
                .join(cubes.TacticMethod, cubes.TacticMethod.tactic == IncidentTactic.tactic)
                .where(IncidentTactic.incident_id.in_(chunk))
                .group_by(cubes.TacticMethod.method)
            )
            for method, n in session.execute(methods):
                counts.methods[(method,)] += sign * n
            targets = (
                select(Person.profile, func.count())
                .join(IncidentPerson, IncidentPerson.person_id == Person.id)
                .where(IncidentPerson.incident_id.in_(chunk), IncidentPerson.role == TARGET)
                .group_by(Person.profile)
            )
            for profile, n in session.execute(targets):
                counts.profiles[(profile or NOT_RECORDED,)] += sign * n


# -- the figures ---------------------------------------------------------------------------------


def _margin(counts: Mapping[tuple[str, ...], int], *positions: int) -> Counter[tuple[str, ...]]:
    totals: Counter[tuple[str, ...]] = Counter()
    for key, n in counts.items():
        totals[tuple(key[p] for p in positions)] += n
    return totals


def tables_from(counts: _Counts) -> dict[str, Counter[tuple[str, ...]]]:
    """The raw counts of every statistic, by name."""
    return {s.name: _margin(counts.of(s.source), *s.positions) for s in STATISTICS}


def concentration(origins: Mapping[tuple[str, ...], int], total: int, n: int) -> Concentration:
    ranked = sorted(((key[0], c) for key, c in origins.items() if c), key=lambda i: (-i[1], i[0]))
    top = tuple(ranked[:n])
    tied = len(ranked) > n > 0 and ranked[n][1] == ranked[n - 1][1]
    return Concentration(n, top, sum(c for _, c in top), total, tied)


def figures(
    session: Session,
    reader: Reader,
    filters: Filters,
    *,
    presentation: Presentation = DEFAULT_PRESENTATION,
    now: datetime | None = None,
) -> Figures:
    """Every figure of the dashboard for this reader; ``now`` decides which referrals are
    overdue."""
    raw = tables_from(count(session, reader, filters))
    total = sum(raw["year"].values())
    tables = {
        s.name: make_table(
            s.name,
            raw[s.name],
            total=sum(raw[s.name].values()) if s.additive else None,
            language=presentation.language,
        )
        for s in STATISTICS
    }
    return Figures(
        filters=filters,
        total=total,
        tables=tables,
        concentration=concentration(raw["origin"], total, presentation.top_n),
        response=response(session, reader, filters, now=now),
    )


# -- response times -----------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float | None:
    """The nearest-rank percentile: the smallest value with at least p% of values at or below."""
    if not values:
        return None
    ordered_values = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered_values)))
    return ordered_values[rank - 1]


def response(
    session: Session,
    reader: Reader,
    filters: Filters,
    *,
    now: datetime | None = None,
    verified_only: bool = False,
) -> tuple[Response, ...]:
    """Per member state of the receiving organisation: referrals of cases whose incident the
    reader may count (and, for open statistics, ``verified_only``), how fast they were
    acknowledged and acted on, and how many were late."""
    now = now or datetime.now(UTC)
    verified = [Incident.status == IncidentStatus.VERIFIED] if verified_only else []
    # The gate's own look-ups into referrals and reports must not correlate with these.
    referral, report = aliased(Referral), aliased(Report)
    query = (
        select(
            Contributor.member_state,
            referral.sent_at,
            referral.due_at,
            referral.acknowledged_at,
            referral.action_at,
        )
        .join(report, report.id == referral.report_id)
        .join(Incident, Incident.id == report.incident_id)
        .join(Contributor, Contributor.id == referral.to_organisation)
        .where(counted(reader), *_incident_filters(filters), *verified)
    )
    by_state: dict[str, list[Any]] = defaultdict(list)
    for row in session.execute(query):
        by_state[row.member_state or NOT_RECORDED].append(row)
    answers = []
    for state, rows in sorted(by_state.items()):
        acks = [
            (r.acknowledged_at - r.sent_at).total_seconds() / 3600
            for r in rows
            if r.acknowledged_at
        ]
        actions = [(r.action_at - r.sent_at).total_seconds() / 86400 for r in rows if r.action_at]
        overdue = sum(1 for r in rows if (r.acknowledged_at or now) > r.due_at)
        answers.append(
            Response(
                member_state=state,
                referrals=len(rows),
                acknowledged=len(acks),
                ack_median_hours=statistics.median(acks) if acks else None,
                ack_p90_hours=percentile(acks, 90),
                actions=len(actions),
                action_median_days=statistics.median(actions) if actions else None,
                action_p90_days=percentile(actions, 90),
                overdue=overdue,
            )
        )
    return tuple(sorted(answers, key=lambda r: (-r.referrals, r.member_state)))
