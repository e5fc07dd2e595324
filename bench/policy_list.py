"""A policy-filtered page of incidents beside the same query without the policy gate.

The registry holds --incidents demo incidents with every TLP label, contributed by several
organisations, AMBER ones shared with sharing groups and RED ones with named recipients; each
incident has a target, and a third of the targets made a consent statement. The
reader is a caseworker of an NGO that belongs to several sharing groups. Each query fetches a
page of 50, newest first, starting at a random cursor (so deep pages are measured too); the gated
and the bare query alternate, and the figure is each one's p50 and p95 and the ratio of p95s.

    python bench/policy_list.py --incidents 1000000 --database sqlite
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import make_url

from haven.access.accounts import (
    NewGroup,
    NewOrganisation,
    NewUser,
    create_organisation,
    create_sharing_group,
    create_user,
    reader_for,
)
from haven.access.models import Consent, RecordRecipient, RecordShare, User
from haven.access.policy import visible
from haven.crypto.fields import FieldCipher
from haven.crypto.keys import new_keyring
from haven.db.engine import make_engine, session_factory
from haven.db.migrate import upgrade
from haven.db.values import utcnow
from haven.demo.generator import IncidentFactory
from haven.domain.enums import ContributorKind, PersonRole, RecipientKind, Role
from haven.registry.models import Incident
from haven.registry.schemas import IncidentIn, PersonIn, parse
from haven.registry.writer import Actor, RegistryWriter
from haven.runtime import bind_keyring

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/haven_bench_policy"
PAGE = 50
CONSENT_SHARE = 0.3
LABEL_WEIGHTS = {"clear": 10, "green": 30, "amber": 40, "amber+strict": 15, "red": 5}


def prepare(url: str, incidents: int, seed: int) -> tuple[Any, FieldCipher, str]:
    """Fill a fresh database; returns the engine, the cipher and the reader's user id."""
    engine = make_engine(url)
    upgrade(engine)
    cipher = FieldCipher(new_keyring())
    rng = random.Random(seed)
    with session_factory(engine).begin() as session:
        bind_keyring(session, cipher.keyring, "bench")
        orgs = [
            create_organisation(
                session, cipher, NewOrganisation(f"NGO {n}", ContributorKind.NGO), actor="b"
            )
            for n in range(8)
        ]
        # The reader's organisation (orgs[0]) is in groups 0, 1 and 2 of six.
        groups = [
            create_sharing_group(
                session,
                cipher,
                NewGroup(
                    f"group {n}", orgs[n], [*rng.sample(orgs[1:], 3), *([orgs[0]] if n < 3 else [])]
                ),
                actor="b",
            )
            for n in range(6)
        ]
        users = [
            create_user(
                session,
                cipher,
                NewUser(org, f"u{n}@example.org", "x" * 16, frozenset({Role.CASEWORKER})),
                actor="b",
            )
            for n, org in enumerate(orgs)
        ]
    factory = IncidentFactory(seed)
    written = 0
    with session_factory(engine).begin() as session:
        writers = [RegistryWriter(session, cipher, Actor(org, "bench")) for org in orgs]
        shares: list[dict[str, str]] = []
        consents: list[dict[str, Any]] = []
        now = utcnow()
        recipients: list[dict[str, str]] = []
        labels, weights = zip(*LABEL_WEIGHTS.items(), strict=True)
        for index, data in enumerate(factory.incidents(incidents)):
            data["tlp"] = rng.choices(labels, weights)[0]
            model = parse(IncidentIn, data)
            writer = writers[rng.randrange(len(writers))]
            incident_id = writer.add_incident(model)
            # A target for every incident; a third of them made a consent statement.
            person_id = writer.add_person(PersonIn(profile="journalist", tlp=model.tlp))
            writer.link_person(incident_id, person_id, PersonRole.TARGET)
            if rng.random() < CONSENT_SHARE:
                kind = rng.choice((RecipientKind.NGO, RecipientKind.AUTHORITY))
                consents.append(
                    {
                        "person_id": person_id,
                        "recipient_kind": kind.value,
                        "member_state": "",
                        "granted": True,
                        "updated_at": now,
                    }
                )
            if model.tlp.value == "amber":
                for group in rng.sample(groups, rng.choice((0, 1, 2))):
                    shares.append(
                        {"entity": "incidents", "record_id": incident_id, "group_id": group}
                    )
            elif model.tlp.value == "red":
                recipients.append(
                    {"entity": "incidents", "record_id": incident_id, "user_id": rng.choice(users)}
                )
            written = index + 1
        for writer in writers:
            writer.flush()
        if shares:
            session.execute(insert(RecordShare), shares)
        if consents:
            session.execute(insert(Consent), consents)
        if recipients:
            session.execute(insert(RecordRecipient), recipients)
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("ANALYZE"))
            connection.commit()
    else:
        with engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
            connection.commit()
    print(
        f"loaded {written:,} incidents, {len(shares):,} group shares, "
        f"{len(recipients):,} recipients",
        flush=True,
    )
    return engine, cipher, users[0]


def measure(engine: Any, user_id: str, rounds: int, seed: int) -> None:
    rng = random.Random(seed)
    sessions = session_factory(engine)
    with sessions() as session:
        reader = reader_for(session, session.get_one(User, user_id), surface="bench")
        ids = list(session.scalars(select(Incident.id).order_by(Incident.id)))
    gated_condition = visible(reader, Incident)
    timings: dict[str, list[float]] = {"bare": [], "gated": []}
    sizes: dict[str, list[int]] = {"bare": [], "gated": []}
    for _ in range(rounds):
        cursor = rng.choice(ids[PAGE * 10 :]) if rng.random() < 0.8 else None
        for name in ("bare", "gated"):
            query = select(Incident)
            if name == "gated":
                query = query.where(gated_condition)
            if cursor is not None:
                query = query.where(Incident.id < cursor)
            query = query.order_by(Incident.id.desc()).limit(PAGE)
            with sessions() as session:
                started = time.perf_counter()
                rows = session.scalars(query).all()
                timings[name].append(time.perf_counter() - started)
                sizes[name].append(len(rows))
    for name in ("bare", "gated"):
        values = sorted(timings[name])
        p50 = statistics.median(values) * 1000
        p95 = values[int(len(values) * 0.95) - 1] * 1000
        print(
            f"  {name:5}: p50 {p50:7.2f} ms  p95 {p95:7.2f} ms  "
            f"mean rows {statistics.mean(sizes[name]):.1f}"
        )
    ratio = (
        sorted(timings["gated"])[int(rounds * 0.95) - 1]
        / sorted(timings["bare"])[int(rounds * 0.95) - 1]
    )
    print(f"  p95 gated / bare: {ratio:.2f} (aim: p95 under 50 ms and within 2x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=400)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--pg-url", default=os.environ.get("HAVEN_BENCH_POLICY_URL", DEFAULT_PG))
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    with tempfile.TemporaryDirectory() as workdir:
        for kind in kinds:
            if kind == "sqlite":
                url = f"sqlite:///{Path(workdir) / 'policy.db'}"
            else:
                url = args.pg_url
                name = make_url(url).database
                admin = create_engine(
                    make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT"
                )
                with admin.connect() as connection:
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                    connection.execute(text(f'CREATE DATABASE "{name}"'))
                admin.dispose()
            print(f"{kind}: loading {args.incidents:,} incidents ...", flush=True)
            engine, _, user_id = prepare(url, args.incidents, seed=7)
            print(f"{kind}: {args.rounds} pages of {PAGE}, gated and bare alternating", flush=True)
            measure(engine, user_id, args.rounds, seed=11)
            engine.dispose()


if __name__ == "__main__":
    main()
