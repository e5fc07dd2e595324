"""The analyst dashboard's figures over a million incidents, beside DuckDB computing the same.

Haven: ``haven.insight.figures.figures(session, reader, Filters(...))``, the whole call (every
table from the trigger-kept count tables, the one-by-one correction of the incidents in
``counted_otherwise()``, concentration and response times), on SQLite and on PostgreSQL.
Baseline: the same rows exported to CSV and loaded into an in-process DuckDB, which computes the
same tables for the same reader by the same rule (the label's audience or the reader's own
contribution, or a share with one of the reader's groups, or a named recipient; minus incidents
whose people made a consent statement that keeps them from the reader), scanning the raw
incidents, tactics and people tables with no pre-aggregation.

Cases: (a) an analyst of one NGO, no filter; (b) the same analyst, 2019 to 2023 in the EU;
(c) the public open statistics (``Reader.public("open")``). Haven and DuckDB alternate run by
run after warm-ups; the figure is each one's median (and Haven's p90) and the median of the
per-run ratios.

    python bench/insight_dashboard.py --incidents 1000000 --runs 15 --database both
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import duckdb
from sqlalchemy import Engine, create_engine, event, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from haven.access.accounts import reader_for
from haven.access.models import (
    Consent,
    RecordRecipient,
    RecordShare,
    SharingGroup,
    SharingGroupMember,
    User,
)
from haven.access.policy import CONSENTING_ROLES, Reader
from haven.db.base import table_of
from haven.db.dialect import bulk_insert, encode_json, read_only
from haven.db.engine import make_engine, session_factory
from haven.db.migrate import upgrade
from haven.db.values import utcnow
from haven.domain.enums import (
    Accusation,
    ContributorKind,
    HostInvolvement,
    PersonRole,
    RecipientKind,
    Role,
    Tlp,
)
from haven.domain.taxonomy import load_taxonomy
from haven.insight import cube
from haven.insight import figures as figures_module
from haven.insight.figures import Figures, Filters, figures
from haven.registry.models import Contributor, Incident, IncidentPerson, IncidentTactic, Person

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/haven_bench_insight"
AIM_MS = 100.0
AIM_RATIO = 3.0
NULL = "\\N"  # how the CSV files for DuckDB write NULL, so that '' stays an empty string

# ~40 origin states, the top ten with about 80% of the incidents.
TOP_ORIGINS = ("CN", "RU", "TR", "IR", "RW", "SA", "EG", "ER", "BY", "TJ")
OTHER_ORIGINS = (
    "AZ", "UZ", "KZ", "TM", "VN", "KH", "LA", "TH", "PK", "BD", "IN", "SY", "IQ", "BH", "AE",
    "ET", "SD", "UG", "ZW", "NI", "VE", "CU", "KP", "MM", "LY", "DZ", "MA", "TN", "KG", "AF",
)  # fmt: skip
TOP_WEIGHTS = (18, 14, 10, 8, 7, 6, 5, 5, 4, 3)  # 80 in all
# ~30 host states, half of them EU member states; 5% not recorded.
HOSTS = (
    "DE", "FR", "NL", "SE", "BE", "AT", "PL", "IT", "ES", "DK", "FI", "IE", "CZ", "GR", "PT", "LT",
    "GB", "US", "CA", "AU", "CH", "NO", "TR", "UA", "GE", "AE", "TH", "KE", "ZA", "JP",
)  # fmt: skip
HOST_WEIGHTS = (
    16, 9, 8, 7, 5, 4, 4, 4, 4, 3, 2, 2, 2, 2, 2, 1, 10, 9, 5, 3, 2, 2, 3, 2, 1, 2, 1, 1, 1, 1,
)  # fmt: skip
NO_HOST_SHARE = 0.05
YEARS = tuple(range(2000, 2026))
LABEL_WEIGHTS = {
    Tlp.CLEAR: 8,
    Tlp.GREEN: 45,
    Tlp.AMBER: 35,
    Tlp.AMBER_STRICT: 8,
    Tlp.RED: 4,
}
INVOLVEMENT_WEIGHTS = {
    HostInvolvement.UNKNOWN: 55,
    HostInvolvement.NONE: 30,
    HostInvolvement.COMPLICIT: 10,
    HostInvolvement.ACTIVE: 5,
}
ACCUSATION_WEIGHTS: dict[Accusation | None, int] = {
    None: 50,
    Accusation.TERRORISM: 20,
    Accusation.EXTREMISM: 10,
    Accusation.STATE_SECURITY: 10,
    Accusation.FRAUD: 5,
    Accusation.OTHER: 5,
}
CLEARED_SHARE = 0.10
# Who contributes: eight organisations, the reader's (the first) the busiest.
CONTRIBUTORS = (
    ("Bench NGO Berlin", ContributorKind.NGO, "DE", 22),
    ("Bench NGO Paris", ContributorKind.NGO, "FR", 18),
    ("Bench NGO Amsterdam", ContributorKind.NGO, "NL", 15),
    ("Bench NGO Stockholm", ContributorKind.NGO, "SE", 12),
    ("Bench NGO Brussels", ContributorKind.NGO, "BE", 10),
    ("Bench NGO Vienna", ContributorKind.NGO, "AT", 9),
    ("Bench Authority Germany", ContributorKind.AUTHORITY, "DE", 8),
    ("Bench EU Body", ContributorKind.EU_BODY, None, 6),
)
GROUPS = 5
READER_GROUPS = (0, 1)  # the reader's organisation is in these sharing groups
# The incidents counted one by one (counted_otherwise(), about 1% in all).
SHARED_AMBER_SHARE = 0.02  # of AMBER incidents, shared with one or two groups
NAMED_RED_SHARE = 0.03  # of RED incidents, with a named recipient
CONSENT_SHARE = 0.003  # of people, with a consent statement
NO_TARGET_SHARE, TWO_TARGETS_SHARE, RELATIVE_SHARE = 0.03, 0.05, 0.02
NO_PROFILE_SHARE = 0.05
PROFILE_WEIGHTS = {
    "journalist": 14,
    "activist": 18,
    "human-rights-defender": 12,
    "diaspora-member": 20,
    "political-opposition": 12,
    "lawyer": 4,
    "former-insider": 3,
    "religious-figure": 5,
    "ethnic-minority": 6,
    "academic": 3,
    "other": 3,
}
COMMON_TACTICS = {
    "harassment": 12,
    "surveillance": 10,
    "intimidation": 10,
    "coercion-by-proxy": 9,
    "malicious-communications": 7,
    "spyware": 5,
    "hacking": 5,
    "doxing": 4,
    "interpol-abuse": 3,
    "passport-cancellation": 3,
    "legal-pressure": 3,
}
BASE_MILLIS = 1_735_689_600_000  # 2025-01-01, the time part of the benchmark's record ids

INCIDENT_ROWS = (
    "id",
    "title",
    "occurred_start",
    "occurred_precision",
    "origin_state",
    "host_state",
    "other_places",
    "host_involvement",
    "accusation",
    "status",
    "taxonomy_version",
    "cleared_for_statistics",
    "tlp",
    "updated_at",
    "contributor_id",
    "contributed_by",
    "contributed_at",
)
PERSON_ROWS = (
    "id",
    "nationality",
    "profile",
    "gender",
    "tlp",
    "updated_at",
    "contributor_id",
    "contributed_by",
    "contributed_at",
)
LINK_ROWS = (
    "id",
    "incident_id",
    "person_id",
    "role",
    "relationship",
    "contributor_id",
    "contributed_by",
    "contributed_at",
)
CONSENT_ROWS = ("person_id", "recipient_kind", "member_state", "granted", "updated_at")


def record_id(kind: int, n: int) -> str:
    """A UUIDv7-shaped id, the same in every database and run: bulk rows append to the
    primary-key index, as Haven's own time-ordered ids do."""
    value = (BASE_MILLIS << 80) | (0x7 << 76) | (kind << 64) | (0b10 << 62) | n
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


# -- the data ------------------------------------------------------------------------------------


@dataclass
class Dataset:
    contributors: list[dict[str, Any]]
    users: list[dict[str, Any]]
    groups: list[dict[str, Any]]
    members: list[dict[str, Any]]
    incidents: list[tuple[Any, ...]] = field(default_factory=list)
    tactics: list[tuple[str, str]] = field(default_factory=list)
    people: list[tuple[Any, ...]] = field(default_factory=list)
    links: list[tuple[Any, ...]] = field(default_factory=list)
    shares: list[tuple[str, str, str]] = field(default_factory=list)
    consents: list[tuple[Any, ...]] = field(default_factory=list)
    recipients: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def reader_user(self) -> str:
        return str(self.users[0]["id"])

    def describe(self) -> str:
        return (
            f"{len(self.incidents):,} incidents, {len(self.tactics):,} tactics, "
            f"{len(self.people):,} people, {len(self.links):,} links, {len(self.shares):,} "
            f"group shares, {len(self.consents):,} consent statements, "
            f"{len(self.recipients):,} named recipients"
        )


def _accounts(rng: random.Random) -> Dataset:
    now = utcnow()
    contributors: list[dict[str, Any]] = [
        {
            "id": record_id(10, n),
            "name": name,
            "kind": kind.value,
            "member_state": state,
            "handles_reports": False,
            "created_at": now,
        }
        for n, (name, kind, state, _weight) in enumerate(CONTRIBUTORS)
    ]
    users: list[dict[str, Any]] = [
        {
            "id": record_id(11, n),
            "organisation_id": org["id"],
            "login_index": f"{n:064x}",
            "login": b"bench",
            "password_hash": "x",
            "roles": [Role.ANALYST.value],
            "system_admin": False,
            "failed_sign_ins": 0,
            "created_at": now,
        }
        for n, org in enumerate(contributors)
    ]
    groups, members = [], []
    for n in range(GROUPS):
        owner = contributors[n + 1]["id"]
        others = {org["id"] for org in rng.sample(contributors[1:], 3)}
        if n in READER_GROUPS:
            others.add(contributors[0]["id"])
        groups.append(
            {
                "id": record_id(12, n),
                "name": f"bench group {n}",
                "owner_id": owner,
                "created_at": now,
            }
        )
        members += [
            {"group_id": record_id(12, n), "organisation_id": org}
            for org in sorted({owner, *others})
        ]
    return Dataset(contributors, users, groups, members)


def generate(count: int, seed: int) -> Dataset:
    """Incidents with their tactics and targets, as rows ready for a bulk insert."""
    rng = random.Random(seed)
    data = _accounts(rng)
    now = utcnow()
    taxonomy = load_taxonomy()
    tactic_codes = [t.code for t in taxonomy.tactics]
    tactic_weights = [COMMON_TACTICS.get(code, 1) for code in tactic_codes]
    origins = rng.choices(
        (*TOP_ORIGINS, *OTHER_ORIGINS),
        (*TOP_WEIGHTS, *([20 / len(OTHER_ORIGINS)] * len(OTHER_ORIGINS))),
        k=count,
    )
    hosts = rng.choices(HOSTS, HOST_WEIGHTS, k=count)
    years = rng.choices(YEARS, [1 + (year - 2000) ** 1.5 for year in YEARS], k=count)
    labels = rng.choices(list(LABEL_WEIGHTS), list(LABEL_WEIGHTS.values()), k=count)
    orgs = rng.choices(range(len(CONTRIBUTORS)), [c[3] for c in CONTRIBUTORS], k=count)
    involvements = rng.choices(
        list(INVOLVEMENT_WEIGHTS), list(INVOLVEMENT_WEIGHTS.values()), k=count
    )
    accusations = rng.choices(list(ACCUSATION_WEIGHTS), list(ACCUSATION_WEIGHTS.values()), k=count)
    profiles = rng.choices(list(PROFILE_WEIGHTS), list(PROFILE_WEIGHTS.values()), k=count * 2)
    days = {
        (year, day): date(year, 1 + day // 28, 1 + day % 28) for year in YEARS for day in range(336)
    }
    contributor_ids = [c["id"] for c in data.contributors]
    group_ids = [g["id"] for g in data.groups]
    user_ids = [u["id"] for u in data.users]
    people = 0
    for n in range(count):
        incident_id = record_id(1, n)
        label, org = labels[n], contributor_ids[orgs[n]]
        host = None if rng.random() < NO_HOST_SHARE else hosts[n]
        accusation = accusations[n]
        data.incidents.append(
            (
                incident_id,
                f"Bench incident {n}",
                days[(years[n], rng.randrange(336))],
                "day",
                origins[n],
                host,
                encode_json([]),
                involvements[n].value,
                None if accusation is None else accusation.value,
                "reported",
                taxonomy.version,
                rng.random() < CLEARED_SHARE,
                label.value,
                now,
                org,
                "bench",
                now,
            )
        )
        wanted = rng.choices((1, 2, 3), (55, 30, 15))[0]
        tactics: set[str] = set()
        while len(tactics) < wanted:
            tactics.update(rng.choices(tactic_codes, tactic_weights, k=wanted - len(tactics)))
        data.tactics += [(incident_id, tactic) for tactic in sorted(tactics)]
        roll = rng.random()
        roles = [] if roll < NO_TARGET_SHARE else [PersonRole.TARGET]
        if roll > 1 - TWO_TARGETS_SHARE:
            roles.append(PersonRole.TARGET)
        if rng.random() < RELATIVE_SHARE:
            roles.append(PersonRole.RELATIVE_TARGETED)
        for role in roles:
            person_id = record_id(2, people)
            profile = (
                "relative"
                if role is PersonRole.RELATIVE_TARGETED
                else None
                if rng.random() < NO_PROFILE_SHARE
                else profiles[people % len(profiles)]
            )
            data.people.append(
                (person_id, origins[n], profile, "undisclosed", label.value, now, org, "bench", now)
            )
            data.links.append(
                (
                    record_id(3, people),
                    incident_id,
                    person_id,
                    role.value,
                    "sibling" if role is PersonRole.RELATIVE_TARGETED else None,
                    org,
                    "bench",
                    now,
                )
            )
            people += 1
            if rng.random() < CONSENT_SHARE:
                data.consents.append(_consent(rng, person_id, now))
        if label is Tlp.AMBER and rng.random() < SHARED_AMBER_SHARE:
            for group in rng.sample(group_ids, rng.choice((1, 2))):
                data.shares.append(("incidents", incident_id, group))
        elif label is Tlp.RED and rng.random() < NAMED_RED_SHARE:
            data.recipients.append(("incidents", incident_id, rng.choice(user_ids)))
    return data


def _consent(rng: random.Random, person_id: str, now: datetime) -> tuple[Any, ...]:
    """A consent statement: to NGOs, to German authorities only, or refusing NGOs."""
    roll = rng.random()
    if roll < 0.4:
        return (person_id, RecipientKind.NGO.value, "", True, now)
    if roll < 0.8:
        return (person_id, RecipientKind.AUTHORITY.value, "DE", True, now)
    return (person_id, RecipientKind.NGO.value, "", False, now)


# -- the databases -------------------------------------------------------------------------------


def fresh_postgresql(url: str) -> None:
    name = make_url(url).database
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def load(engine: Engine, data: Dataset, triggers: str) -> dict[str, float]:
    """Write the data set into a migrated database; returns the seconds of each step."""
    seconds: dict[str, float] = {}
    with session_factory(engine).begin() as session:
        session.execute(insert(Contributor), data.contributors)
        session.execute(insert(User), data.users)
        session.execute(insert(SharingGroup), data.groups)
        session.execute(insert(SharingGroupMember), data.members)
    started = time.perf_counter()
    with engine.begin() as connection:
        if triggers == "reinstall":
            cube.uninstall(connection)
        for model, columns, rows in (
            (Incident, INCIDENT_ROWS, data.incidents),
            (IncidentTactic, ("incident_id", "tactic"), data.tactics),
            (Person, PERSON_ROWS, data.people),
            (IncidentPerson, LINK_ROWS, data.links),
            (RecordShare, ("entity", "record_id", "group_id"), data.shares),
            (Consent, CONSENT_ROWS, data.consents),
            (RecordRecipient, ("entity", "record_id", "user_id"), data.recipients),
        ):
            if rows:
                bulk_insert(connection, table_of(model), columns, rows)
        seconds["rows"] = time.perf_counter() - started
        if triggers == "reinstall":
            installing = time.perf_counter()
            cube.install(connection)
            seconds["install"] = time.perf_counter() - installing
    seconds["load"] = time.perf_counter() - started
    analysing = time.perf_counter()
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    else:
        with engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
            connection.commit()
    seconds["analyze"] = time.perf_counter() - analysing
    checking = time.perf_counter()
    with engine.connect() as connection:
        differences = cube.drift(connection)
    seconds["drift"] = time.perf_counter() - checking
    if any(differences.values()):
        raise SystemExit(f"the count tables are out of step: {differences}")
    return seconds


def cube_sizes(engine: Engine) -> dict[str, int]:
    """Rows in each count table."""
    with engine.connect() as connection:
        return {
            c.table: connection.execute(text(f"SELECT count(*) FROM {c.table}")).scalar_one()
            for c in cube.CUBES
        }


# -- DuckDB --------------------------------------------------------------------------------------

EXPORTS = {
    "incidents": (
        "SELECT id, tlp, contributor_id, CASE WHEN cleared_for_statistics THEN 1 ELSE 0 END, "
        "occurred_start, origin_state, host_state, host_involvement, accusation FROM incidents",
        {
            "id": "UUID",
            "tlp": "VARCHAR",
            "contributor_id": "UUID",
            "cleared": "BOOLEAN",
            "occurred_start": "DATE",
            "origin_state": "VARCHAR",
            "host_state": "VARCHAR",
            "host_involvement": "VARCHAR",
            "accusation": "VARCHAR",
        },
    ),
    "incident_tactics": (
        "SELECT incident_id, tactic FROM incident_tactics",
        {"incident_id": "UUID", "tactic": "VARCHAR"},
    ),
    "people": ("SELECT id, profile FROM people", {"id": "UUID", "profile": "VARCHAR"}),
    "incident_people": (
        "SELECT incident_id, person_id, role FROM incident_people",
        {"incident_id": "UUID", "person_id": "UUID", "role": "VARCHAR"},
    ),
    "consents": (
        "SELECT person_id, recipient_kind, member_state, "
        "CASE WHEN granted THEN 1 ELSE 0 END FROM consents",
        {
            "person_id": "UUID",
            "recipient_kind": "VARCHAR",
            "member_state": "VARCHAR",
            "granted": "BOOLEAN",
        },
    ),
    "record_shares": (
        "SELECT entity, record_id, group_id FROM record_shares",
        {"entity": "VARCHAR", "record_id": "UUID", "group_id": "UUID"},
    ),
    "record_recipients": (
        "SELECT entity, record_id, user_id FROM record_recipients",
        {"entity": "VARCHAR", "record_id": "UUID", "user_id": "UUID"},
    ),
}


def to_duckdb(engine: Engine, workdir: Path) -> duckdb.DuckDBPyConnection:
    """Export the tables the figures read to CSV files and load them into an in-memory DuckDB."""
    duck = duckdb.connect()
    with engine.connect() as connection:
        for table, (query, columns) in EXPORTS.items():
            path = workdir / f"{table}.csv"
            with path.open("w", newline="") as out:
                writer = csv.writer(out)
                writer.writerow(columns)
                result = connection.exec_driver_sql(query)
                for chunk in result.partitions(100_000):
                    writer.writerows(
                        [NULL if value is None else value for value in row] for row in chunk
                    )
            types = ", ".join(f"'{name}': '{kind}'" for name, kind in columns.items())
            duck.execute(
                f"CREATE TABLE {table} AS SELECT * FROM read_csv('{path}', header = true, "
                f"nullstr = '{NULL}', columns = {{{types}}})"
            )
    methods = [(t.code, t.method) for t in load_taxonomy().tactics]
    duck.execute("CREATE TABLE tactic_methods (tactic VARCHAR, method VARCHAR)")
    duck.executemany("INSERT INTO tactic_methods VALUES (?, ?)", methods)
    return duck


def _quoted(values: Any) -> str:
    return ", ".join(f"'{value}'" for value in sorted(values)) or "NULL"


def duckdb_sql(reader: Reader, filters: Filters) -> str:
    """One statement computing every table for the reader, by the gate's rule, from raw rows."""
    consenting = _quoted(CONSENTING_ROLES)
    stated = (
        f"SELECT ip.incident_id FROM incident_people ip WHERE ip.role IN ({consenting}) "
        "AND ip.person_id IN (SELECT person_id FROM consents)"
    )
    if reader.is_public:
        rule = f"(i.tlp = 'clear' OR i.cleared) AND i.id NOT IN ({stated})"
    else:
        org, groups = f"'{reader.organisation_id}'", _quoted(reader.groups)
        kind = reader.recipient_kind.value if reader.recipient_kind else ""
        blocked = (
            f"{stated} AND ip.person_id NOT IN (SELECT person_id FROM consents "
            f"WHERE recipient_kind = '{kind}' AND granted "
            f"AND member_state IN ('', '{reader.member_state or ''}'))"
        )
        rule = (
            "(i.tlp IN ('clear', 'green') "
            f"OR (i.tlp = 'amber' AND (i.contributor_id = {org} OR i.id IN (SELECT record_id "
            f"FROM record_shares WHERE entity = 'incidents' AND group_id IN ({groups})))) "
            f"OR (i.tlp = 'amber+strict' AND i.contributor_id = {org}) "
            "OR (i.tlp = 'red' AND i.id IN (SELECT record_id FROM record_recipients "
            f"WHERE entity = 'incidents' AND user_id = '{reader.user_id}'))) "
            f"AND (i.contributor_id = {org} OR i.id NOT IN ({blocked}))"
        )
    scope = []
    if filters.year_from:
        scope.append(f"i.occurred_start >= DATE '{filters.year_from}-01-01'")
    if filters.year_to:
        scope.append(f"i.occurred_start < DATE '{filters.year_to + 1}-01-01'")
    if filters.hosts is not None:
        scope.append(f"i.host_state IN ({_quoted(filters.hosts)})")
    where = " AND ".join([*scope, f"({rule})"])
    return f"""
WITH c AS MATERIALIZED (
    SELECT i.id, CAST(year(i.occurred_start) AS VARCHAR) AS year, i.origin_state AS origin,
        COALESCE(i.host_state, '') AS host, i.host_involvement AS involvement,
        COALESCE(i.accusation, '') AS accusation
    FROM incidents i WHERE {where}
), ct AS MATERIALIZED (
    SELECT c.id, c.year, t.tactic FROM c JOIN incident_tactics t ON t.incident_id = c.id
)
SELECT 'year', year, '', count(*) FROM c GROUP BY year
UNION ALL SELECT 'origin', origin, '', count(*) FROM c GROUP BY origin
UNION ALL SELECT 'host', host, '', count(*) FROM c GROUP BY host
UNION ALL SELECT 'origin_host', origin, host, count(*) FROM c GROUP BY origin, host
UNION ALL SELECT 'involvement', involvement, '', count(*) FROM c GROUP BY involvement
UNION ALL SELECT 'accusation', accusation, '', count(*) FROM c GROUP BY accusation
UNION ALL SELECT 'tactic', tactic, '', count(*) FROM ct GROUP BY tactic
UNION ALL SELECT 'tactic_year', tactic, year, count(*) FROM ct GROUP BY tactic, year
UNION ALL SELECT 'method', method, '', count(*) FROM (
    SELECT DISTINCT ct.id, tm.method FROM ct JOIN tactic_methods tm ON tm.tactic = ct.tactic
) GROUP BY method
UNION ALL SELECT 'profile', COALESCE(p.profile, ''), '', count(*)
    FROM c JOIN incident_people ip ON ip.incident_id = c.id AND ip.role = 'target'
    JOIN people p ON p.id = ip.person_id GROUP BY COALESCE(p.profile, '')
"""


Tables = dict[str, dict[tuple[str, ...], int]]
TWO_DIMENSIONS = frozenset({"origin_host", "tactic_year"})


def duckdb_tables(duck: duckdb.DuckDBPyConnection, sql: str) -> Tables:
    tables: Tables = defaultdict(dict)
    for name, first, second, n in duck.execute(sql).fetchall():
        key = (first, second) if name in TWO_DIMENSIONS else (first,)
        tables[name][key] = n
    return dict(tables)


def haven_tables(result: Figures) -> Tables:
    return {name: dict(table.rows) for name, table in result.tables.items()}


def differences(haven: Tables, duck: Tables) -> list[str]:
    found = []
    for name in sorted(haven.keys() | duck.keys()):
        ours, theirs = haven.get(name, {}), duck.get(name, {})
        wrong = [k for k in ours.keys() | theirs.keys() if ours.get(k) != theirs.get(k)]
        if wrong:
            sample = ", ".join(f"{k}: {ours.get(k)} vs {theirs.get(k)}" for k in sorted(wrong)[:3])
            found.append(f"{name} ({len(wrong)} cells, e.g. {sample})")
    return found


# -- measuring -----------------------------------------------------------------------------------


@dataclass
class Case:
    name: str
    reader: Reader
    filters: Filters


@dataclass
class Outcome:
    case: str
    database: str
    haven: list[float]
    duck: list[float]
    agree: bool
    parts: dict[str, float]

    @property
    def haven_median(self) -> float:
        return statistics.median(self.haven) * 1000

    @property
    def haven_p90(self) -> float:
        ordered = sorted(self.haven)
        return ordered[max(0, math.ceil(len(ordered) * 0.9) - 1)] * 1000

    @property
    def duck_median(self) -> float:
        return statistics.median(self.duck) * 1000

    @property
    def ratio(self) -> float:
        return statistics.median(h / d for h, d in zip(self.haven, self.duck, strict=True))

    @property
    def met(self) -> bool:
        return self.haven_median < AIM_MS and self.ratio <= AIM_RATIO


def cases(session: Session, data: Dataset) -> list[Case]:
    user = session.get(User, data.reader_user)
    assert user is not None
    analyst = reader_for(session, user, surface="insight")
    return [
        Case("(a) analyst, all", analyst, Filters()),
        Case("(b) analyst, 2019-23 EU", analyst, Filters(2019, 2023, "eu")),
        Case("(c) public open", Reader.public("open"), Filters()),
    ]


def measure(
    sessions: sessionmaker[Session],
    *,
    duck: duckdb.DuckDBPyConnection,
    case: Case,
    database: str,
    runs: int,
    warmups: int,
) -> Outcome:
    sql = duckdb_sql(case.reader, case.filters)
    haven_times: list[float] = []
    duck_times: list[float] = []
    agree = True
    for run in range(warmups + runs):
        with sessions() as session:
            started = time.perf_counter()
            result = figures(session, case.reader, case.filters)
            haven = time.perf_counter() - started
        started = time.perf_counter()
        theirs = duckdb_tables(duck, sql)
        baseline = time.perf_counter() - started
        if run == 0:
            wrong = differences(haven_tables(result), theirs)
            agree = not wrong
            total = sum(theirs.get("year", {}).values())
            print(
                f"  {case.name}: {result.total:,} incidents counted; "
                + ("figures agree" if agree else "figures DIFFER: " + "; ".join(wrong)),
                flush=True,
            )
            if case.name.startswith("(a)"):
                assert agree, "Haven and DuckDB disagree on case (a)"
                assert result.total == total, "Haven and DuckDB disagree on case (a)'s total"
        if run >= warmups:
            haven_times.append(haven)
            duck_times.append(baseline)
    parts = breakdown(sessions, case, max(3, runs // 3))
    return Outcome(case.name, database, haven_times, duck_times, agree, parts)


def breakdown(sessions: sessionmaker[Session], case: Case, runs: int) -> dict[str, float]:
    """Median milliseconds of each part of figures(): each count table read, the one-by-one
    correction, response times, and the rest (tables, labels, concentration)."""
    spent: dict[str, list[float]] = defaultdict(list)

    def timed(label: Callable[..., str], function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                lap[label(*args)] += time.perf_counter() - started

        return wrapper

    lap: dict[str, float] = defaultdict(float)
    wrappers = {
        "_read": timed(
            lambda _s, _r, model, *_: f"read {model.__tablename__}", figures_module._read
        ),
        "_correct": timed(lambda *_: "correct", figures_module._correct),
        "response": timed(lambda *_: "response", figures_module.response),
    }
    with ExitStack() as stack:
        for name, wrapper in wrappers.items():
            stack.enter_context(mock.patch.object(figures_module, name, wrapper))
        for _ in range(runs):
            lap.clear()
            with sessions() as session:
                started = time.perf_counter()
                figures(session, case.reader, case.filters)
                whole = time.perf_counter() - started
            for label, seconds in lap.items():
                spent[label].append(seconds)
            spent["rest (margins, labels)"].append(whole - sum(lap.values()))
    return {label: statistics.median(values) * 1000 for label, values in spent.items()}


@contextmanager
def captured(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The statements (with parameters) run on the engine inside the block."""
    statements: list[tuple[str, Any]] = []

    def before(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


def explain(engine: Engine, sessions: sessionmaker[Session], case: Case) -> None:
    """Print the plan of every statement figures() runs for the case."""
    with captured(engine) as statements, sessions() as session:
        figures(session, case.reader, case.filters)
    prefix = (
        "EXPLAIN (ANALYZE, BUFFERS) "
        if engine.dialect.name == "postgresql"
        else "EXPLAIN QUERY PLAN "
    )
    with engine.connect() as connection:
        for statement, parameters in statements:
            if not statement.lstrip().upper().startswith("SELECT"):
                continue
            print(f"\n--- {statement.strip()[:400]}")
            for row in connection.exec_driver_sql(prefix + statement, parameters):
                print("   ", " | ".join(str(value) for value in row))
            connection.rollback()


# -- the run -------------------------------------------------------------------------------------


def run_database(
    kind: str,
    url: str,
    data: Dataset,
    args: argparse.Namespace,
    *,
    workdir: Path,
    duck: duckdb.DuckDBPyConnection | None,
) -> tuple[list[Outcome], dict[str, float], duckdb.DuckDBPyConnection]:
    if kind == "postgresql":
        fresh_postgresql(url)
    engine = make_engine(url)
    upgrade(engine)
    print(f"\n{kind}: loading {data.describe()} (triggers: {args.triggers}) ...", flush=True)
    seconds = load(engine, data, args.triggers)
    how = (
        f"rows {seconds['rows']:.1f} s + install and recount {seconds['install']:.1f} s"
        if args.triggers == "reinstall"
        else "triggers fired row by row"
    )
    print(
        f"{kind}: loaded in {seconds['load']:.1f} s ({how}), "
        f"{len(data.incidents) / seconds['load']:,.0f} incidents/s; "
        f"analyze {seconds['analyze']:.1f} s; drift check {seconds['drift']:.1f} s: counts in step",
        flush=True,
    )
    sizes = ", ".join(f"{table} {rows:,}" for table, rows in cube_sizes(engine).items())
    print(f"{kind}: rows in the count tables: {sizes}", flush=True)
    if duck is None:
        started = time.perf_counter()
        duck = to_duckdb(engine, workdir)
        print(f"duckdb: exported and loaded in {time.perf_counter() - started:.1f} s", flush=True)
    sessions = session_factory(read_only(engine))
    with sessions() as session:
        chosen = cases(session, data)
    outcomes = []
    for case in chosen:
        outcome = measure(
            sessions, duck=duck, case=case, database=kind, runs=args.runs, warmups=args.warmups
        )
        parts = ", ".join(f"{label} {ms:.1f}" for label, ms in outcome.parts.items())
        print(f"    parts (median ms): {parts}", flush=True)
        outcomes.append(outcome)
    if args.explain:
        explain(engine, sessions, chosen[0])
    engine.dispose()
    return outcomes, seconds, duck


def report(outcomes: list[Outcome]) -> None:
    print(
        f"\n{'case':<24} {'database':<10} {'haven p50':>10} {'haven p90':>10} {'duckdb p50':>11} "
        f"{'ratio':>6}  aim (p50 < {AIM_MS:.0f} ms, <= {AIM_RATIO:.0f}x duckdb)"
    )
    for o in outcomes:
        aim = "met" if o.met else "NOT met"
        print(
            f"{o.case:<24} {o.database:<10} {o.haven_median:>7.1f} ms {o.haven_p90:>7.1f} ms "
            f"{o.duck_median:>8.1f} ms {o.ratio:>6.2f}  {aim}"
        )
    print("ratio: median of the per-run ratios Haven/DuckDB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--warmups", type=int, default=2)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--triggers", choices=("fire", "reinstall"), default="reinstall")
    parser.add_argument("--pg-url", default=os.environ.get("HAVEN_BENCH_INSIGHT_URL", DEFAULT_PG))
    parser.add_argument("--workdir", type=Path, default=None, help="keep the SQLite file here")
    parser.add_argument("--explain", action="store_true", help="print the plans of case (a)")
    parser.add_argument("--seed", type=int, default=2025)
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]

    started = time.perf_counter()
    data = generate(args.incidents, args.seed)
    print(f"generated {data.describe()} in {time.perf_counter() - started:.1f} s", flush=True)
    outcomes: list[Outcome] = []
    loads: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="haven_bench_insight_") as scratch:
        workdir = args.workdir or Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        duck = None
        for kind in kinds:
            url = (
                f"sqlite:///{(workdir / 'insight.db').resolve()}"
                if kind == "sqlite"
                else args.pg_url
            )
            if kind == "sqlite":
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{workdir / 'insight.db'}{suffix}").unlink(missing_ok=True)
            found, loads[kind], duck = run_database(
                kind, url, data, args, workdir=workdir, duck=duck
            )
            outcomes += found
    report(outcomes)
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    results = {
        "incidents": args.incidents,
        "triggers": args.triggers,
        "load_seconds": loads,
        "cases": [
            {
                "case": o.case,
                "database": o.database,
                "haven_median_ms": round(o.haven_median, 2),
                "haven_p90_ms": round(o.haven_p90, 2),
                "duckdb_median_ms": round(o.duck_median, 2),
                "ratio": round(o.ratio, 3),
                "aim_met": o.met,
                "figures_agree": o.agree,
                "parts_ms": {k: round(v, 2) for k, v in o.parts.items()},
                "haven_seconds": o.haven,
                "duckdb_seconds": o.duck,
            }
            for o in outcomes
        ],
    }
    (out / f"insight_dashboard-{stamp}.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
