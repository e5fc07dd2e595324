"""Bulk load of demo incidents through Haven's write path, beside the raw database path.

Haven's path: plain input data -> validation (IncidentIn) -> ids, audit digests and hash chain ->
RegistryWriter -> executemany (SQLite) or COPY (PostgreSQL), one transaction.
Baseline: the same rows (incidents, incident_tactics, audit_log), already built, written by the
bare driver with the same fast path in one transaction. Both write into a freshly migrated
database with the same indexes and constraints.

Runs alternate baseline and Haven (A B A B ...) because timings on a shared machine drift;
the result is the median of the per-pair ratios.

    python bench/bulk_load.py --incidents 1000000 --rounds 5 --database sqlite
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from haven.audit.chain import _COLUMNS as AUDIT_COLUMNS
from haven.crypto.fields import FieldCipher
from haven.crypto.keys import new_keyring
from haven.db.dialect import encode_json, sqlite_timestamp
from haven.db.engine import make_engine, session_factory
from haven.db.migrate import upgrade
from haven.db.values import new_id, utcnow
from haven.demo.generator import IncidentFactory
from haven.registry.contributors import SYSTEM_CONTRIBUTOR_ID
from haven.registry.schemas import IncidentIn, parse
from haven.registry.sealed import sealed_context
from haven.registry.writer import INCIDENT_COLUMNS, Actor, RegistryWriter
from haven.runtime import bind_keyring

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/haven_bench"


@dataclass
class Rows:
    incidents: list[tuple[Any, ...]]
    tactics: list[tuple[Any, ...]]
    audit: list[tuple[Any, ...]]

    @property
    def total(self) -> int:
        return len(self.incidents) + len(self.tactics) + len(self.audit)


class Target:
    """A freshly migrated database per run, made from one migrated template."""

    def __init__(self, kind: str, pg_url: str, workdir: Path) -> None:
        self.kind = kind
        self.pg_url = pg_url
        self.workdir = workdir
        self.runs = 0
        self.keyring = new_keyring()
        self.template = self._template()

    def _template(self) -> str:
        if self.kind == "sqlite":
            path = self.workdir / "template.db"
            engine = make_engine(f"sqlite:///{path}")
            self._prepare(engine)
            return str(path)
        name = f"{make_url(self.pg_url).database}_tpl"
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
        self._prepare(make_engine(self._pg_database(name)))
        return name

    def _prepare(self, engine: Any) -> None:
        upgrade(engine)
        with session_factory(engine).begin() as session:
            bind_keyring(session, self.keyring, "bench")
            self.contributor = SYSTEM_CONTRIBUTOR_ID
        engine.dispose()

    def _pg_database(self, name: str) -> str:
        return make_url(self.pg_url).set(database=name).render_as_string(hide_password=False)

    def _admin(self, *statements: str) -> None:
        admin = make_url(self.pg_url).set(database="postgres")
        engine = create_engine(admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            for statement in statements:
                connection.execute(text(statement))
        engine.dispose()

    def fresh(self) -> str:
        """A new database; returns its SQLAlchemy URL."""
        self.runs += 1
        if self.kind == "sqlite":
            path = self.workdir / f"run{self.runs}.db"
            shutil.copyfile(self.template, path)
            return f"sqlite:///{path}"
        name = f"{make_url(self.pg_url).database}_run"
        self._admin(
            f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
            f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"',
        )
        return self._pg_database(name)

    def discard(self, url: str) -> None:
        if self.kind == "sqlite":
            database = make_url(url).database or ""
            for suffix in ("", "-wal", "-shm"):
                Path(database + suffix).unlink(missing_ok=True)


def baseline_rows(
    inputs: list[dict[str, Any]], contributor: str, cipher: FieldCipher, sqlite: bool
) -> Rows:
    """The rows Haven writes, built ahead of time so only the database work is timed."""
    now = utcnow()
    stamp: Callable[[Any], Any] = sqlite_timestamp if sqlite else (lambda value: value)
    day: Callable[[Any], Any] = (
        (lambda value: None if value is None else value.isoformat()) if sqlite else (lambda v: v)
    )
    incidents, tactics, audit = [], [], []
    digest = "a" * 64
    for seq, data in enumerate(inputs, start=1):
        model = parse(IncidentIn, data)
        incident_id = new_id()
        state = {
            "id": incident_id,
            "title": model.title,
            "narrative": cipher.encrypt(
                model.narrative.encode(), sealed_context("incidents", "narrative", incident_id)
            ),
            "narrative_language": model.narrative_language,
            "occurred_start": day(model.occurred.start),
            "occurred_end": day(model.occurred.end),
            "occurred_precision": model.occurred.precision.value,
            "reported_on": day(model.reported_on),
            "origin_state": model.origin_state,
            "host_state": model.host_state,
            "other_places": encode_json([]),
            "host_involvement": model.host_involvement.value,
            "accusation": None if model.accusation is None else model.accusation.value,
            "state_responsibility": model.state_responsibility,
            "status": model.status.value,
            "taxonomy_version": 1,
            "tlp": model.tlp.value,
            "updated_at": stamp(now),
            "contributor_id": contributor,
            "contributed_by": "bench",
            "contributed_at": stamp(now),
        }
        incidents.append(tuple(state[column] for column in INCIDENT_COLUMNS))
        tactics.extend((incident_id, tactic) for tactic in model.tactics)
        audit.append(
            (
                seq,
                stamp(now),
                "bench",
                "create",
                "incidents",
                incident_id,
                "bench",
                None,
                digest,
                digest,
                digest,
            )
        )
    return Rows(incidents, tactics, audit)


def run_baseline(target: Target, rows: Rows) -> float:
    url = target.fresh()
    incident_sql = ", ".join(INCIDENT_COLUMNS)
    audit_sql = ", ".join(AUDIT_COLUMNS)
    if target.kind == "sqlite":
        connection = sqlite3.connect(make_url(url).database or "", isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("PRAGMA foreign_keys=ON")
        marks = lambda n: ", ".join("?" * n)  # noqa: E731
        started = time.perf_counter()
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany(
            f"INSERT INTO incidents ({incident_sql}) VALUES ({marks(len(INCIDENT_COLUMNS))})",
            rows.incidents,
        )
        connection.executemany(
            "INSERT INTO incident_tactics (incident_id, tactic) VALUES (?, ?)", rows.tactics
        )
        connection.executemany(
            f"INSERT INTO audit_log ({audit_sql}) VALUES ({marks(len(AUDIT_COLUMNS))})", rows.audit
        )
        connection.execute("COMMIT")
        elapsed = time.perf_counter() - started
        connection.close()
    else:
        plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(plain) as connection:
            started = time.perf_counter()
            with connection.cursor() as cursor:
                for table, columns, data in (
                    ("incidents", incident_sql, rows.incidents),
                    ("incident_tactics", "incident_id, tactic", rows.tactics),
                    ("audit_log", audit_sql, rows.audit),
                ):
                    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                        for row in data:
                            copy.write_row(row)
            connection.commit()
            elapsed = time.perf_counter() - started
    target.discard(url)
    return elapsed


def run_haven(target: Target, inputs: list[dict[str, Any]]) -> tuple[float, int]:
    url = target.fresh()
    engine = make_engine(url)
    cipher = FieldCipher(target.keyring)
    started = time.perf_counter()
    with session_factory(engine).begin() as session:
        writer = RegistryWriter(session, cipher, Actor(target.contributor, "bench", "bench"))
        for data in inputs:
            writer.add_incident(parse(IncidentIn, data))
        writer.flush()
    elapsed = time.perf_counter() - started
    engine.dispose()
    target.discard(url)
    return elapsed, writer.written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--pg-url", default=os.environ.get("HAVEN_BENCH_DATABASE_URL", DEFAULT_PG))
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()

    print(f"generating {args.incidents:,} demo incidents ...", flush=True)
    inputs = list(IncidentFactory(seed=2025).incidents(args.incidents))
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    results = []
    with tempfile.TemporaryDirectory(dir=args.workdir) as workdir:
        for kind in kinds:
            target = Target(kind, args.pg_url, Path(workdir))
            rows = baseline_rows(
                inputs, target.contributor, FieldCipher(target.keyring), kind == "sqlite"
            )
            print(
                f"\n{kind}: {args.incidents:,} incidents = {rows.total:,} rows per run", flush=True
            )
            pairs = []
            for round_number in range(1, args.rounds + 1):
                base = run_baseline(target, rows)
                haven, written = run_haven(target, inputs)
                written += args.incidents  # the audit entries, appended outside writer.written
                if written != rows.total:
                    sys.exit(f"Haven wrote {written} rows, the baseline {rows.total}")
                pairs.append((base, haven))
                print(
                    f"  round {round_number}: raw {args.incidents / base:>9,.0f} incidents/s "
                    f"({rows.total / base:>9,.0f} rows/s) | haven {args.incidents / haven:>9,.0f} "
                    f"incidents/s ({rows.total / haven:>9,.0f} rows/s) | ratio {base / haven:.2f}",
                    flush=True,
                )
            ratio = statistics.median(base / haven for base, haven in pairs)
            raw_rate = args.incidents / statistics.median(base for base, _ in pairs)
            haven_rate = args.incidents / statistics.median(haven for _, haven in pairs)
            print(
                f"{kind}: median raw {raw_rate:,.0f} incidents/s, haven {haven_rate:,.0f} "
                f"incidents/s, median ratio haven/raw {ratio:.2f} (aim: at least 0.40)"
            )
            results.append(
                {
                    "database": kind,
                    "incidents": args.incidents,
                    "rows_per_run": rows.total,
                    "rounds": args.rounds,
                    "raw_incidents_per_s": round(raw_rate),
                    "haven_incidents_per_s": round(haven_rate),
                    "median_ratio": round(ratio, 3),
                    "pairs_seconds": pairs,
                }
            )
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    (out / f"bulk_load-{stamp}.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
