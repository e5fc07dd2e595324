"""From a committed report to the webhook receiver: latency (p50, p99) and deliveries per second.

For each database (a SQLite file in WAL mode, or a fresh PostgreSQL database) Haven is set up
with a key file, its migrations, an NGO that handles reports, a caseworker with a write-scoped
API token, and an organisation webhook of that NGO with an organisation subscription to
``report-received``. A report is TLP:AMBER+STRICT (its handling organisation only), so every
report emits exactly one webhook delivery. The receiver is a ThreadingHTTPServer in this process
that checks each request's HMAC signature, records its arrival time and delivery id, and answers
200 at once.

1. **Latency**: the real ``haven serve`` (with its built-in worker) gets ``POST /api/v1/reports``
   at a steady --rate for --seconds from --clients keep-alive connections. Per report, latency =
   arrival at the receiver - the moment the client had the 201 answer (the commit precedes the
   answer, so this understates the true commit-to-arrival time by the answer's trip). The
   webhook's ``link`` ends in the report id. Missing = 201 answers never delivered.
2. **Throughput**: with the server stopped, --deliveries reports are written directly
   (``submit_report`` and the API's ``report_received`` emit, in batches), then ``haven worker``
   (a subprocess, default options) delivers them; deliveries/s = deliveries between the first
   and the last arrival / that time. Baseline in the same run: a bare loop in this process
   sending as many signed POSTs with the worker's own client code (``WebhookChannel.deliver``)
   to the same receiver. The ratio is Haven/bare.

    python bench/notify_latency.py --rate 20 --seconds 15 --deliveries 5000 --database both
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import math
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from haven.access.accounts import (
    NewOrganisation,
    NewUser,
    TokenRequest,
    create_organisation,
    create_token,
    create_user,
)
from haven.casework.notices import report_received
from haven.crypto.fields import FieldCipher
from haven.crypto.keys import Keyring, new_keyring, save_keyring
from haven.db.engine import make_engine, session_factory
from haven.db.migrate import upgrade
from haven.db.values import new_id
from haven.domain.enums import ContributorKind, ReportChannel, Role
from haven.intake.models import Report
from haven.intake.reports import ReportIn, Submission, submit_report
from haven.notify.channels.base import Item, Notice, Recipient
from haven.notify.channels.webhook import WebhookChannel
from haven.notify.events import EventKind
from haven.notify.models import Channel
from haven.notify.subscriptions import Endpoint, Owner, Rules, add_subscription, add_webhook
from haven.runtime import bind_keyring
from haven.settings import Settings
from reports_api import Server, free_port, make_reports, percentile, pg_admin, start

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/haven_bench_notify"
# The receiver listens on 127.0.0.1, which webhooks may reach only when allowed.
LOOPBACK = Settings(webhook_allow_private=True)
PATH = "/api/v1/reports"
AIM_P99_MS = 1000.0
AIM_PER_S = 500.0


# -- the receiver ------------------------------------------------------------------------------


class Receiver:
    """Webhook receiver: checks signatures, records (delivery id, report id, arrival time)."""

    def __init__(self) -> None:
        self.secret = ""
        self.lock = threading.Lock()
        self.arrivals: dict[str, tuple[str, float]] = {}  # delivery id -> (report id, time)
        self.duplicates = 0
        self.bad_signatures = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                arrived = time.perf_counter()
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                timestamp = self.headers.get("X-Haven-Timestamp", "")
                mac = hmac.new(
                    receiver.secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256
                )
                good = hmac.compare_digest(
                    "sha256=" + mac.hexdigest(), self.headers.get("X-Haven-Signature", "")
                )
                if good:
                    document = json.loads(body)
                    report_id = str(document.get("link", "")).rsplit("/", 1)[-1]
                    delivery = self.headers.get("X-Haven-Delivery", "")
                    with receiver.lock:
                        if delivery in receiver.arrivals:
                            receiver.duplicates += 1
                        else:
                            receiver.arrivals[delivery] = (report_id, arrived)
                else:
                    with receiver.lock:
                        receiver.bad_signatures += 1
                self.send_response(200 if good else 401)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def reset(self) -> None:
        with self.lock:
            self.arrivals.clear()
            self.duplicates = 0
            self.bad_signatures = 0

    def count(self) -> int:
        with self.lock:
            return len(self.arrivals)

    def wait_for(self, expected: int, quiet_seconds: float, limit: float) -> None:
        """Until ``expected`` arrivals, or nothing new for ``quiet_seconds``, or ``limit`` s."""
        deadline = time.monotonic() + limit
        last, changed = self.count(), time.monotonic()
        while time.monotonic() < deadline and last < expected:
            time.sleep(0.05)
            now = self.count()
            if now != last:
                last, changed = now, time.monotonic()
            elif time.monotonic() - changed > quiet_seconds:
                return

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- setting up --------------------------------------------------------------------------------


@dataclass
class Haven:
    kind: str
    url: str
    workdir: Path
    key_file: Path
    keyring: Keyring | None = None
    organisation: str = ""
    user: str = ""
    token: str = ""
    servers: list[Server] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "HAVEN_MODE": "development",
            "HAVEN_DATA_DIR": str(self.workdir),
            "HAVEN_DATABASE_URL": self.url,
            "HAVEN_KEY_FILE": str(self.key_file),
        }


def prepare(haven: Haven, receiver: Receiver) -> None:
    haven.keyring = new_keyring()
    save_keyring(haven.keyring, haven.key_file)
    engine = make_engine(haven.url)
    upgrade(engine)
    cipher = FieldCipher(haven.keyring)
    with session_factory(engine).begin() as session:
        bind_keyring(session, haven.keyring, str(haven.key_file))
        haven.organisation = create_organisation(
            session,
            cipher,
            NewOrganisation("Bench Rights Desk", ContributorKind.NGO),
            actor="bench",
        )
        haven.user = create_user(
            session,
            cipher,
            NewUser(
                haven.organisation,
                "caseworker@bench.example.org",
                secrets.token_urlsafe(18),
                frozenset({Role.CASEWORKER}),
            ),
            actor="bench",
        )
        haven.token = create_token(
            session,
            cipher,
            TokenRequest(haven.user, "bench", frozenset({"write"}), timedelta(days=1)),
            actor="bench",
        ).secret
        hook = add_webhook(
            session,
            cipher,
            Endpoint(haven.organisation, receiver.url),
            actor="bench",
            settings=LOOPBACK,
        )
        rules = Rules(Channel.WEBHOOK, kinds=(EventKind.REPORT_RECEIVED,))
        add_subscription(
            session, cipher, Owner(organisation_id=haven.organisation), rules, actor="bench"
        )
    engine.dispose()
    receiver.secret = hook.secret


# -- 1. latency through haven serve ------------------------------------------------------------


@dataclass
class Sent:
    answered: dict[str, float] = field(default_factory=dict)  # report id -> time of the 201
    errors: int = 0


def post_reports(port: int, token: str, bodies: list[bytes], args: argparse.Namespace) -> Sent:
    """Report k is due at start + k / rate; client c sends every k with k % clients == c."""
    total = int(args.rate * args.seconds)
    sent = Sent()
    lock = threading.Lock()
    begin = time.perf_counter() + 0.2

    def client(number: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        for k in range(number, total, args.clients):
            delay = begin + k / args.rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            try:
                connection.request("POST", PATH, bodies[k % len(bodies)], headers)
                response = connection.getresponse()
                answer = response.read()
                answered = time.perf_counter()
            except OSError:
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                with lock:
                    sent.errors += 1
                continue
            with lock:
                if response.status == 201:
                    sent.answered[json.loads(answer)["id"]] = answered
                else:
                    sent.errors += 1
        connection.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(args.clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sent


def latency_run(haven: Haven, receiver: Receiver, args: argparse.Namespace) -> dict[str, Any]:
    bodies = make_reports(500, seed=7)
    receiver.reset()
    port = free_port()
    command = [
        str(Path(sys.executable).parent / "haven"),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    server = start("haven", command, haven.env(), port, haven.workdir / "serve.log")
    haven.servers.append(server)
    try:
        time.sleep(3)  # let the embedded worker start its loop
        sent = post_reports(port, haven.token, bodies, args)
        receiver.wait_for(len(sent.answered), quiet_seconds=10, limit=60)
    finally:
        server.stop()
    with receiver.lock:
        arrivals = dict(receiver.arrivals.values())
        duplicates, bad = receiver.duplicates, receiver.bad_signatures
    latencies = [
        (arrivals[report] - answered) * 1000
        for report, answered in sent.answered.items()
        if report in arrivals
    ]
    return {
        "rate_per_s": args.rate,
        "seconds": args.seconds,
        "clients": args.clients,
        "answered_201": len(sent.answered),
        "errors": sent.errors,
        "delivered": len(latencies),
        "missing": len(sent.answered) - len(latencies),
        "duplicates": duplicates,
        "bad_signatures": bad,
        "p50_ms": percentile(latencies, 0.50),
        "p99_ms": percentile(latencies, 0.99),
        "max_ms": max(latencies) if latencies else math.nan,
        "min_ms": min(latencies) if latencies else math.nan,
    }


# -- 2. throughput of haven worker -------------------------------------------------------------


def prefill(haven: Haven, count: int, batch: int = 250) -> float:
    """``count`` reports written and emitted as the API does, ``batch`` per transaction."""
    assert haven.keyring is not None
    bodies = [ReportIn.model_validate_json(body) for body in make_reports(500, seed=11)]
    engine = make_engine(haven.url)
    cipher = FieldCipher(haven.keyring)
    sessions = session_factory(engine)
    submission = Submission(haven.organisation, ReportChannel.API, f"user:{haven.user}", "api")
    began = time.perf_counter()
    for first in range(0, count, batch):
        with sessions.begin() as session:
            for n in range(first, min(count, first + batch)):
                receipt = submit_report(session, cipher, bodies[n % len(bodies)], submission)
                report = session.get(Report, receipt.report_id)
                assert report is not None
                report_received(session, cipher, report)
    engine.dispose()
    return time.perf_counter() - began


def worker_run(haven: Haven, receiver: Receiver, count: int) -> dict[str, Any]:
    receiver.reset()
    command = [str(Path(sys.executable).parent / "haven"), "worker"]
    log = haven.workdir / "worker.log"
    with log.open("wb") as out:
        # The command is this interpreter's own `haven`, never outside input.
        process = subprocess.Popen(  # noqa: S603
            command, env=haven.env(), stdout=out, stderr=out
        )
    server = Server("worker", process, 0, log)
    haven.servers.append(server)
    started = time.perf_counter()
    try:
        receiver.wait_for(count, quiet_seconds=15, limit=600)
    finally:
        server.stop()
    with receiver.lock:
        times = sorted(arrived for _, arrived in receiver.arrivals.values())
        duplicates, bad = receiver.duplicates, receiver.bad_signatures
    span = times[-1] - times[0] if len(times) > 1 else math.nan
    return {
        "deliveries": count,
        "delivered": len(times),
        "missing": count - len(times),
        "duplicates": duplicates,
        "bad_signatures": bad,
        "first_arrival_after_start_s": times[0] - started if times else math.nan,
        "span_s": span,
        "per_s": (len(times) - 1) / span if span and not math.isnan(span) else math.nan,
    }


def bare_run(receiver: Receiver, count: int) -> dict[str, Any]:
    """The same number of signed POSTs through ``WebhookChannel.deliver``, one after another."""
    receiver.reset()
    notices = [
        Notice(
            delivery,
            (
                Item(
                    delivery,
                    "report-received",
                    "R-2026-000000",
                    f"http://127.0.0.1/reports/{delivery}",
                    "amber+strict",
                ),
            ),
        )
        for delivery in (new_id() for _ in range(count))
    ]
    channel, to = WebhookChannel(), Recipient(url=receiver.url, secret=receiver.secret)
    began = time.perf_counter()
    for notice in notices:
        channel.deliver(LOOPBACK, to, notice)
    elapsed = time.perf_counter() - began
    return {
        "deliveries": count,
        "delivered": receiver.count(),
        "bad_signatures": receiver.bad_signatures,
        "seconds": elapsed,
        "per_s": count / elapsed,
    }


# -- reporting ---------------------------------------------------------------------------------


def verdict(value: bool) -> str:
    return "met" if value else "NOT met"


def finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [finite(item) for item in value]
    return value


def bench_database(kind: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    directory = workdir / kind
    directory.mkdir()
    if kind == "sqlite":
        url = f"sqlite:///{directory / 'haven.db'}"
    else:
        url = args.pg_url
        name = make_url(url).database
        pg_admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    haven = Haven(kind, url, directory, directory / "keys.json")
    receiver = Receiver()
    try:
        prepare(haven, receiver)
        print(
            f"\n{kind}: latency run, {args.rate:g} reports/s for {args.seconds:g} s from "
            f"{args.clients} clients, haven serve with its worker",
            flush=True,
        )
        latency = latency_run(haven, receiver, args)
        print(
            f"  {latency['answered_201']} answered 201, {latency['errors']} errors, "
            f"{latency['delivered']} delivered, {latency['missing']} missing, "
            f"{latency['duplicates']} duplicates, {latency['bad_signatures']} bad signatures",
            flush=True,
        )
        filled = prefill(haven, args.deliveries)
        print(
            f"{kind}: throughput run, {args.deliveries} deliveries in the outbox "
            f"(written in {filled:.1f} s), haven worker (default options)",
            flush=True,
        )
        pairs = []
        for _ in range(args.pairs):
            bare = bare_run(receiver, args.deliveries)
            worker = worker_run(haven, receiver, args.deliveries)
            pairs.append((bare, worker))
            print(
                f"  bare {bare['per_s']:,.0f}/s, worker {worker['per_s']:,.1f}/s "
                f"({worker['delivered']} delivered in {worker['span_s']:.1f} s, first after "
                f"{worker['first_arrival_after_start_s']:.1f} s)",
                flush=True,
            )
            if _ + 1 < args.pairs:
                prefill(haven, args.deliveries)
    finally:
        for server in haven.servers:
            server.stop()
        receiver.close()
        if kind == "postgresql":
            pg_admin(url, f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')

    worker_rate = statistics.median(worker["per_s"] for _, worker in pairs)
    bare_rate = statistics.median(bare["per_s"] for bare, _ in pairs)
    ratio = statistics.median(worker["per_s"] / bare["per_s"] for bare, worker in pairs)
    missing = latency["missing"] + sum(worker["missing"] for _, worker in pairs)
    checks = {
        "p99": latency["p99_ms"] < AIM_P99_MS,
        "per_s": worker_rate >= AIM_PER_S,
        "missing": missing == 0,
    }
    print(f"\n  {kind:<28}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'deliveries/s':>14}")
    print(
        f"  {'report -> webhook (serve)':<28}{latency['p50_ms']:>9.0f}{latency['p99_ms']:>9.0f}"
        f"{latency['max_ms']:>9.0f}{'':>14}"
    )
    print(f"  {'haven worker (outbox)':<28}{'':>27}{worker_rate:>14,.1f}")
    print(f"  {'bare deliver loop':<28}{'':>27}{bare_rate:>14,.1f}")
    print(f"  ratio worker/bare (median of {len(pairs)}): {ratio:.3f}")
    print(
        f"  aim: p99 < {AIM_P99_MS:g} ms ({verdict(checks['p99'])}), >= {AIM_PER_S:g} "
        f"deliveries/s ({verdict(checks['per_s'])}), 0 missing ({verdict(checks['missing'])}): "
        f"{'aim met' if all(checks.values()) else 'aim NOT met'}",
        flush=True,
    )
    result = {
        "database": kind,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "latency": latency,
        "throughput": [{"bare": bare, "worker": worker} for bare, worker in pairs],
        "worker_per_s": worker_rate,
        "bare_per_s": bare_rate,
        "ratio": ratio,
        "aim": {
            "p99_ms_below": AIM_P99_MS,
            "per_s_at_least": AIM_PER_S,
            "missing": 0,
            "met": checks,
            "all_met": all(checks.values()),
        },
    }
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / f"notify_latency-{kind}.json").write_text(json.dumps(finite(result), indent=2) + "\n")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--rate", type=float, default=20, help="reports/s in the latency run")
    parser.add_argument("--seconds", type=float, default=15, help="length of the latency run")
    parser.add_argument("--clients", type=int, default=4, help="connections in the latency run")
    parser.add_argument("--deliveries", type=int, default=5000, help="outbox rows to deliver")
    parser.add_argument("--pairs", type=int, default=1, help="bare/worker throughput pairs")
    parser.add_argument("--pg-url", default=os.environ.get("HAVEN_BENCH_NOTIFY_URL", DEFAULT_PG))
    args = parser.parse_args()
    kinds = ("sqlite", "postgresql") if args.database == "both" else (args.database,)
    with tempfile.TemporaryDirectory(prefix="haven-bench-notify-") as workdir:
        for kind in kinds:
            bench_database(kind, args, Path(workdir))


if __name__ == "__main__":
    main()
