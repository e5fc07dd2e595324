"""POST /api/v1/reports from concurrent clients against `haven serve`, beside a bare endpoint.

For each database (a SQLite file in WAL mode, or a fresh PostgreSQL database) Haven is set up
with a key file, its migrations, an NGO, a caseworker and a write-scoped API token, and run as
the real `haven serve`. The baseline is a bare FastAPI app started the same way (uvicorn in a
subprocess) whose one POST endpoint parses a similar JSON body with a pydantic model and inserts
one row (id, received_at, body) into `bench_reports` in the same database, through a pooled
SQLAlchemy Core engine with Haven's engine settings (WAL, busy_timeout, BEGIN IMMEDIATE on
SQLite), committing per request.

The load is --clients keep-alive connections on one asyncio loop, each sending varied,
realistic reports back to back, half of them with an Idempotency-Key; per run a warm-up, then
--seconds measured. Runs alternate bare and Haven (A B A B ...); the summary is the median of the
per-pair ratios of reports/s. After each run the rows are counted: every 201 answer must have
left one row behind (lost = 201 answers - new rows).

    python bench/reports_api.py --clients 32 --seconds 20 --pairs 3 --database sqlite

Internally, `python bench/reports_api.py --bare-server URL PORT` runs the baseline server.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import math
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Column, DateTime, MetaData, String, Table, Text, create_engine, text
from sqlalchemy.engine import make_url

from haven.access.accounts import (
    NewOrganisation,
    NewUser,
    TokenRequest,
    create_organisation,
    create_token,
    create_user,
)
from haven.crypto.fields import FieldCipher
from haven.crypto.keys import new_keyring, save_keyring
from haven.db.engine import make_engine, session_factory
from haven.db.migrate import upgrade
from haven.demo.generator import ORIGIN_WEIGHTS
from haven.demo.names import NAME_POOLS
from haven.domain.countries import EU_MEMBER_STATES, country_name
from haven.domain.enums import (
    ContributorKind,
    PerpetratorKind,
    RecipientKind,
    ReporterRelation,
    Role,
)
from haven.domain.taxonomy import load_taxonomy
from haven.intake.reports import ReportIn
from haven.runtime import bind_keyring

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/haven_bench_reports"
PATH = "/api/v1/reports"
DISTINCT_REPORTS = 2000
AIM_RATIO = 0.5
AIM_P99_MS = 100.0

BARE_TABLE = Table(
    "bench_reports",
    MetaData(),
    Column("id", String(36), primary_key=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("body", Text, nullable=False),
)


# -- the baseline server -----------------------------------------------------------------------


class BareContact(BaseModel):
    method: str
    address: str
    precautions: str | None = None


class BareOccurred(BaseModel):
    start: date
    end: date | None = None
    precision: str = "day"


class BareReport(BaseModel):
    """The same JSON as ReportIn, parsed with plain types (no vocabularies, no patterns)."""

    model_config = ConfigDict(extra="forbid")

    what_happened: str
    tactics: list[str]
    occurred: BareOccurred
    origin_state: str
    host_state: str | None = None
    place: str | None = None
    perpetrator_kind: str = "unknown"
    perpetrator: str | None = None
    relation: str = "self"
    target_name: str | None = None
    target_profile: str | None = None
    urgent: bool = False
    contact: BareContact | None = None
    consent: list[str] = []
    language: str = "en"


def bare_server(url: str, port: int) -> None:
    """One POST endpoint: parse, insert one row, commit. Same engine settings as Haven's."""
    import uvicorn
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse
    from sqlalchemy import insert

    engine = make_engine(url)
    app = FastAPI()

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return {"status": "ok"}

    @app.post(PATH, status_code=201)
    def create(data: BareReport) -> JSONResponse:
        row_id = str(uuid.uuid4())
        with engine.begin() as connection:
            connection.execute(
                insert(BARE_TABLE),
                {"id": row_id, "received_at": datetime.now(UTC), "body": data.model_dump_json()},
            )
        return JSONResponse({"id": row_id}, status_code=201)

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# -- realistic reports -------------------------------------------------------------------------

SENTENCES = (
    "Since {month} I have received messages from unknown numbers telling me to stop writing "
    "about {origin}.",
    "Two men who said they were from the embassy came to my workplace in {place} and asked "
    "my colleagues where I live.",
    "My brother in {origin} was questioned by the police about what I do abroad and told that "
    "our family would suffer.",
    "My e-mail account was broken into and private photos were published together with my home "
    "address.",
    "The consulate refused to renew my passport unless I return to {origin} first.",
    "I learned that a notice was issued against me, and my bank closed my account without any "
    "explanation.",
    "After I clicked a link sent by someone posing as a journalist, my phone began to behave "
    "strangely; a friend found spyware on it.",
    "They said my parents would lose their pensions if I keep speaking at demonstrations in "
    "{place}.",
    "A man followed me from the community centre to the station three evenings in a row.",
    "Posts in a group of people from {origin} call me a traitor and give the name of my "
    "children's school.",
    "An official in {origin} opened a criminal case against me for 'spreading false "
    "information' after an interview I gave in {month}.",
    "I reported the threats to the local police in {place}, but nobody has contacted me since.",
)
PLACES = ("Berlin", "Paris", "Vienna", "Warsaw", "Amsterdam", "Brussels", "Stockholm", "Prague")
CONSENT_KINDS = tuple(kind.value for kind in RecipientKind)
RELATIONS = (
    [ReporterRelation.SELF.value] * 6
    + [ReporterRelation.RELATIVE.value] * 2
    + [ReporterRelation.COLLEAGUE.value, ReporterRelation.OTHER.value]
)


def make_reports(count: int, seed: int) -> list[bytes]:
    """Distinct report bodies, each checked against ReportIn so that none is refused."""
    rng = random.Random(seed)
    taxonomy = load_taxonomy()
    tactics = [tactic.code for tactic in taxonomy.tactics]
    profiles = sorted(taxonomy.target_profiles.codes)
    origins, weights = list(ORIGIN_WEIGHTS), list(ORIGIN_WEIGHTS.values())
    hosts = sorted(EU_MEMBER_STATES)
    today = date.today()
    bodies = []
    for n in range(count):
        origin = rng.choices(origins, weights)[0]
        place = rng.choice(PLACES)
        occurred = today - timedelta(days=rng.randrange(1, 3 * 365))
        precision = rng.choice(("day", "day", "month"))
        if precision == "month":
            occurred = occurred.replace(day=1)
        month = occurred.strftime("%B %Y")
        narrative = " ".join(
            sentence.format(origin=country_name(origin), place=place, month=month)
            for sentence in rng.sample(SENTENCES, rng.randint(2, 5))
        )
        report: dict[str, Any] = {
            "what_happened": narrative,
            "tactics": rng.sample(tactics, rng.choice((1, 1, 2, 3))),
            "occurred": {"start": occurred.isoformat(), "precision": precision},
            "origin_state": origin,
            "perpetrator_kind": rng.choice([kind.value for kind in PerpetratorKind]),
            "relation": rng.choice(RELATIONS),
            "urgent": rng.random() < 0.1,
            "consent": rng.sample(CONSENT_KINDS, rng.randint(0, len(CONSENT_KINDS))),
            "language": rng.choice(("en", "en", "en", "fr", "de", "ru", "tr")),
        }
        if rng.random() < 0.8:
            report["host_state"] = rng.choice(hosts)
        if rng.random() < 0.5:
            report["place"] = place
        if rng.random() < 0.4:
            report["perpetrator"] = "A man who introduced himself as a consular officer"
        if rng.random() < 0.5:
            pool = rng.choice(NAME_POOLS.get(origin) or NAME_POOLS["TR"])
            given, family = rng.choice(pool.given)[1], rng.choice(pool.family)[1]
            report["target_name"] = (
                f"{family} {given}" if pool.family_first else f"{given} {family}"
            )
        if rng.random() < 0.6:
            report["target_profile"] = rng.choice(profiles)
        if rng.random() < 0.4:
            method = rng.choice(("email", "phone", "messenger", "other"))
            address = (
                f"reporter{n}@example.org"
                if method == "email"
                else f"+49 151 {rng.randrange(10**7):07d}"
            )
            report["contact"] = {"method": method, "address": address}
            if rng.random() < 0.3:
                report["contact"]["precautions"] = "Only on weekdays; never leave a voice message."
        ReportIn.model_validate(report)
        bodies.append(json.dumps(report, ensure_ascii=False).encode())
    return bodies


# -- setting up, serving, counting -------------------------------------------------------------


@dataclass
class Database:
    kind: str
    url: str
    workdir: Path
    key_file: Path
    token: str = ""

    def count(self, table: str) -> int:
        engine = make_engine(self.url)
        try:
            with engine.connect() as connection:
                return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
        finally:
            engine.dispose()

    def settled_count(self, table: str) -> int:
        """The count once it stops changing: a server may commit just after it answers, and a
        report is lost only if its row never arrives."""
        last = self.count(table)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(0.5)
            now = self.count(table)
            if now == last:
                return now
            last = now
        return last


def pg_admin(url: str, *statements: str) -> None:
    engine = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        for statement in statements:
            connection.execute(text(statement))
    engine.dispose()


def prepare(database: Database) -> None:
    """Key file, migrations, an NGO with a caseworker and a write-scoped token, the bare table."""
    keyring = new_keyring()
    save_keyring(keyring, database.key_file)
    engine = make_engine(database.url)
    upgrade(engine)
    cipher = FieldCipher(keyring)
    with session_factory(engine).begin() as session:
        bind_keyring(session, keyring, str(database.key_file))
        organisation = create_organisation(
            session,
            cipher,
            NewOrganisation("Bench Rights Desk", ContributorKind.NGO),
            actor="bench",
        )
        user = create_user(
            session,
            cipher,
            NewUser(
                organisation,
                "caseworker@bench.example.org",
                secrets.token_urlsafe(18),
                frozenset({Role.CASEWORKER}),
            ),
            actor="bench",
        )
        issued = create_token(
            session,
            cipher,
            TokenRequest(user, "bench", frozenset({"write"}), timedelta(days=1)),
            actor="bench",
        )
    BARE_TABLE.metadata.create_all(engine)
    engine.dispose()
    database.token = issued.secret


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def tail(self, lines: int = 15) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start(name: str, command: list[str], env: dict[str, str], port: int, log: Path) -> Server:
    with log.open("wb") as out:
        # The command is this interpreter's own `haven` or this file, never outside input.
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
    server = Server(name, process, port, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"{name} server exited with {process.returncode}:\n{server.tail()}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                connection.close()
                return server
            connection.close()
        except OSError:
            pass
        time.sleep(0.2)
    server.stop()
    sys.exit(f"{name} server did not become healthy within 60 s:\n{server.tail()}")


def start_haven(database: Database) -> Server:
    port = free_port()
    env = {
        **os.environ,
        "HAVEN_MODE": "development",
        "HAVEN_DATA_DIR": str(database.workdir),
        "HAVEN_DATABASE_URL": database.url,
        "HAVEN_KEY_FILE": str(database.key_file),
    }
    haven = Path(sys.executable).parent / "haven"
    command = [str(haven), "serve", "--host", "127.0.0.1", "--port", str(port)]
    return start("haven", command, env, port, database.workdir / "haven.log")


def start_bare(database: Database) -> Server:
    port = free_port()
    command = [sys.executable, __file__, "--bare-server", database.url, str(port)]
    return start("bare", command, dict(os.environ), port, database.workdir / "bare.log")


# -- the load ----------------------------------------------------------------------------------


@dataclass
class Run:
    system: str
    number: int
    seconds: float
    requests: int = 0  # answered within the measured window
    created: int = 0  # 201 answers within the measured window
    latencies: list[float] = field(default_factory=list)  # ms, measured window
    answers_201: int = 0  # every 201, warm-up and tail included
    sent: int = 0
    errors: Counter[str] = field(default_factory=Counter)  # the whole run
    error_samples: list[str] = field(default_factory=list)
    rows: int = 0

    @property
    def rate(self) -> float:
        return self.created / self.seconds

    @property
    def lost(self) -> int:
        return self.answers_201 - self.rows

    def percentile(self, fraction: float) -> float:
        return percentile(self.latencies, fraction)


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile; NaN when there is nothing to rank."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes, bool]:
    """One HTTP/1.1 request on a keep-alive connection: status, body, whether it closes."""
    writer.write(request)
    await writer.drain()
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionResetError("the server closed the connection")
    status = int(status_line.split()[1])
    length, chunked, close = 0, False, False
    while True:
        line = await reader.readline()
        if line in {b"\r\n", b""}:
            break
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        elif name == b"connection" and b"close" in value.lower():
            close = True
    if not chunked:
        return status, await reader.readexactly(length), close
    parts = []
    while True:
        size = int((await reader.readline()).split(b";")[0], 16)
        parts.append(await reader.readexactly(size + 2))
        if size == 0:
            return status, b"".join(parts), close


async def load(
    port: int, token: str, bodies: list[bytes], run: Run, args: argparse.Namespace
) -> None:
    """--clients connections send reports back to back for warm-up + --seconds."""
    loop_clock = time.perf_counter
    start_at = loop_clock() + 0.5
    window = (start_at + args.warmup, start_at + args.warmup + args.seconds)
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
    ).encode()

    async def client(number: int) -> None:
        rng = random.Random(f"{run.system}-{run.number}-{number}")
        connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        await asyncio.sleep(max(0.0, start_at - loop_clock()))
        while loop_clock() < window[1]:
            body = bodies[rng.randrange(len(bodies))]
            request = head + f"Content-Length: {len(body)}\r\n".encode()
            if rng.random() < args.idempotency_share:
                request += f"Idempotency-Key: {uuid.uuid4()}\r\n".encode()
            request += b"\r\n" + body
            began = loop_clock()
            run.sent += 1
            try:
                if connection is None:
                    connection = await asyncio.open_connection("127.0.0.1", port)
                status, answer, close = await asyncio.wait_for(
                    exchange(*connection, request), args.timeout
                )
            except (OSError, EOFError, TimeoutError, ValueError, IndexError) as exc:
                run.errors[type(exc).__name__] += 1
                if connection is not None:
                    connection[1].close()
                connection = None
                continue
            ended = loop_clock()
            if status == 201:
                run.answers_201 += 1
            else:
                run.errors[f"HTTP {status}"] += 1
                if len(run.error_samples) < 3:
                    run.error_samples.append(f"{status}: {answer[:300].decode(errors='replace')}")
            if window[0] <= ended <= window[1]:
                run.requests += 1
                run.latencies.append((ended - began) * 1000)
                if status == 201:
                    run.created += 1
            if close or status != 201:
                # After an error the server may drop the connection; start a fresh one rather
                # than count a reset on the next request as a second error.
                connection[1].close()
                connection = None
        if connection is not None:
            connection[1].close()

    await asyncio.gather(*(client(n) for n in range(args.clients)))


def measure(
    run: Run,
    server: Server,
    *,
    database: Database,
    table: str,
    bodies: list[bytes],
    args: argparse.Namespace,
) -> Run:
    before = database.settled_count(table)
    asyncio.run(load(server.port, database.token, bodies, run, args))
    run.rows = database.settled_count(table) - before
    if server.process.poll() is not None:
        run.errors["server exited"] += 1
    return run


# -- reporting ---------------------------------------------------------------------------------

HEADER = (
    f"  {'':<16}{'runs':>5}{'requests':>10}{'reports/s':>11}{'p50 ms':>9}{'p99 ms':>9}"
    f"{'errors':>8}{'lost':>6}"
)


def ms(value: float) -> str:
    return f"{'n/a':>9}" if math.isnan(value) else f"{value:>9.1f}"


def row(label: str, figures: dict[str, Any]) -> str:
    return (
        f"  {label:<16}{figures['runs']:>5}{figures['requests']:>10,}"
        f"{figures['reports_per_s']:>11,.1f}{ms(figures['p50_ms'])}{ms(figures['p99_ms'])}"
        f"{figures['errors']:>8}{figures['lost']:>6}"
    )


def summary(runs: list[Run]) -> dict[str, Any]:
    latencies = [value for run in runs for value in run.latencies]
    errors: Counter[str] = Counter()
    for run in runs:
        errors.update(run.errors)
    return {
        "runs": len(runs),
        "requests": sum(run.requests for run in runs),
        "reports_per_s": statistics.median(run.rate for run in runs),
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
        "errors": errors.total(),
        "error_kinds": dict(errors),
        "answers_201": sum(run.answers_201 for run in runs),
        "rows": sum(run.rows for run in runs),
        "lost": sum(run.lost for run in runs),
    }


def run_json(run: Run) -> dict[str, Any]:
    return {
        "system": run.system,
        "pair": run.number,
        "seconds": run.seconds,
        "requests": run.requests,
        "reports_per_s": round(run.rate, 2),
        "p50_ms": round(run.percentile(0.5), 2),
        "p90_ms": round(run.percentile(0.9), 2),
        "p99_ms": round(run.percentile(0.99), 2),
        "max_ms": round(max(run.latencies, default=math.nan), 2),
        "sent": run.sent,
        "answers_201": run.answers_201,
        "rows": run.rows,
        "lost": run.lost,
        "errors": dict(run.errors),
        "error_samples": run.error_samples,
    }


def finite(value: Any) -> Any:
    """JSON has no NaN: a figure that could not be measured (no answers) becomes null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite(item) for item in value]
    return value


def verdict(value: bool) -> str:
    return "met" if value else "NOT met"


def bench_database(kind: str, args: argparse.Namespace, bodies: list[bytes], workdir: Path) -> None:
    directory = workdir / kind
    directory.mkdir()
    if kind == "sqlite":
        url = f"sqlite:///{directory / 'haven.db'}"
    else:
        url = args.pg_url
        name = make_url(url).database
        pg_admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    database = Database(kind, url, directory, directory / "keys.json")
    servers: list[Server] = []
    try:
        prepare(database)
        bare = start_bare(database)
        servers.append(bare)
        haven = start_haven(database)
        servers.append(haven)
        print(
            f"\n{kind}: {args.clients} clients, {args.warmup:g} s warm-up + {args.seconds:g} s "
            f"measured per run, {args.pairs} pairs (bare, haven alternating)",
            flush=True,
        )
        print(HEADER, flush=True)
        pairs: list[tuple[Run, Run]] = []
        for number in range(1, args.pairs + 1):
            runs = []
            for system, server, table in (
                ("bare", bare, "bench_reports"),
                ("haven", haven, "reports"),
            ):
                run = measure(
                    Run(system, number, args.seconds),
                    server,
                    database=database,
                    table=table,
                    bodies=bodies,
                    args=args,
                )
                print(row(f"{system} {number}", summary([run])), flush=True)
                if run.errors:
                    kinds = ", ".join(f"{n} x {kind}" for kind, n in run.errors.most_common())
                    print(f"      errors: {kinds}", flush=True)
                for sample in run.error_samples:
                    print(f"      e.g. {sample}", flush=True)
                runs.append(run)
            pairs.append((runs[0], runs[1]))
    finally:
        for server in servers:
            server.stop()
        if kind == "postgresql":
            pg_admin(url, f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')

    bare_runs = [bare_run for bare_run, _ in pairs]
    haven_runs = [haven_run for _, haven_run in pairs]
    totals = {"bare": summary(bare_runs), "haven": summary(haven_runs)}
    for system, total in totals.items():
        print(row(f"{system} (all)", total))
    ratios = [
        haven_run.rate / bare_run.rate if bare_run.rate else math.nan
        for bare_run, haven_run in pairs
    ]
    ratio = statistics.median(ratios)
    haven_total = totals["haven"]
    checks = {
        "ratio": ratio >= AIM_RATIO,
        "p99": haven_total["p99_ms"] < AIM_P99_MS,
        "errors": haven_total["errors"] == 0,
        "lost": haven_total["lost"] == 0,
    }
    print(
        "  reports/s is the median of the runs; p50 and p99 are over all measured requests "
        "of the runs"
    )
    print(
        f"  ratio haven/bare of reports/s per pair: {', '.join(f'{r:.2f}' for r in ratios)}; "
        f"median {ratio:.2f}"
    )
    print(
        f"  aim (set for 32 clients; this run {args.clients}): ratio >= {AIM_RATIO} "
        f"({verdict(checks['ratio'])}), "
        f"haven p99 < {AIM_P99_MS:g} ms ({verdict(checks['p99'])}), 0 errors "
        f"({verdict(checks['errors'])}), 0 lost ({verdict(checks['lost'])}): "
        f"{'aim met' if all(checks.values()) else 'aim NOT met'}",
        flush=True,
    )
    if totals["bare"]["errors"] or totals["bare"]["lost"]:
        print("  note: the baseline itself had errors or lost rows; its rate is not a fair bar")
    result = {
        "database": kind,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "clients": args.clients,
        "warmup_s": args.warmup,
        "seconds": args.seconds,
        "pairs": args.pairs,
        "idempotency_share": args.idempotency_share,
        "runs": [run_json(run) for pair in pairs for run in pair],
        "bare": totals["bare"],
        "haven": totals["haven"],
        "ratios": ratios,
        "median_ratio": ratio,
        "aim": {
            "ratio_at_least": AIM_RATIO,
            "p99_ms_below": AIM_P99_MS,
            "errors": 0,
            "lost": 0,
            "met": checks,
            "all_met": all(checks.values()),
        },
    }
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / f"reports_api-{kind}.json").write_text(json.dumps(finite(result), indent=2) + "\n")


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--bare-server":
        bare_server(sys.argv[2], int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=3, help="unmeasured seconds per run")
    parser.add_argument("--pairs", type=int, default=3, help="bare/haven pairs per database")
    parser.add_argument(
        "--idempotency-share",
        type=float,
        default=0.5,
        help="share of requests that carry an Idempotency-Key",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=60,
        help="seconds before a request counts as failed (longer than the pool's 30 s wait)",
    )
    parser.add_argument("--pg-url", default=os.environ.get("HAVEN_BENCH_REPORTS_URL", DEFAULT_PG))
    args = parser.parse_args()
    started = time.perf_counter()
    bodies = make_reports(DISTINCT_REPORTS, seed=2025)
    sizes = [len(body) for body in bodies]
    print(
        f"{len(bodies)} distinct reports, {min(sizes)}-{max(sizes)} bytes "
        f"(median {statistics.median(sizes):.0f})",
        flush=True,
    )
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    with tempfile.TemporaryDirectory() as workdir:
        for kind in kinds:
            bench_database(kind, args, bodies, Path(workdir))
    print(f"\ntotal wall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
