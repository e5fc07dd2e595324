"""The ``haven`` command line."""

from __future__ import annotations

import itertools
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from haven.access.integrity import check_records
from haven.audit.chain import Change, append, verify
from haven.audit.checkpoint import (
    check_against,
    create_signing_key,
    load_public_key,
    load_signing_key,
    make_checkpoint,
    public_key_pem,
    read_checkpoint,
    signing_key,
    write_checkpoint,
)
from haven.cli.access import groups_app, orgs_app, tokens_app, users_app
from haven.cli.imports import import_file
from haven.cli.stats import report, stats_app
from haven.cli.worker import embedded_worker, worker
from haven.crypto.fields import FieldCipher
from haven.crypto.keys import load_keyring, new_keyring, save_keyring
from haven.db.engine import DRIVER_ERRORS, check_connection, database_error
from haven.db.migrate import current_revision, head_revision, upgrade
from haven.demo.accounts import DEMO_PASSWORD, DemoAccount, ensure_demo_accounts
from haven.demo.generator import fill
from haven.errors import AuditChainBroken, ConfigurationError, HavenError, ValidationFailed
from haven.intake.files import EvidenceStore
from haven.registry.models import Incident
from haven.registry.sealed import key_numbers_in_use, reencrypt_all
from haven.runtime import KEY_RELOAD_SECONDS, Runtime, open_runtime
from haven.settings import Mode, load_settings
from haven.web.app import create_app

app = typer.Typer(
    help="Haven: a case registry and alert network for transnational repression.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
keys_app = typer.Typer(help="The key file that encrypts identifying data.", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit chain.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")
app.add_typer(orgs_app, name="orgs")
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
app.add_typer(groups_app, name="groups")
app.command("import")(import_file)
app.add_typer(stats_app, name="stats")
app.command("report")(report)
app.command("worker")(worker)

out = Console(soft_wrap=True)
notes = Console(stderr=True, soft_wrap=True)


def _runtime() -> Runtime:
    return open_runtime(load_settings())


def _migrate(runtime: Runtime) -> None:
    # A migration that encrypts stored values reads the key file; only such a one needs it.
    upgrade(
        runtime.engine, sealer=lambda: FieldCipher(load_keyring(runtime.settings.resolved_key_file))
    )


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (HAVEN_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind (HAVEN_PORT).")] = None,
    with_worker: Annotated[
        bool,
        typer.Option(
            "--worker/--no-worker",
            help="Deliver notifications in this process too (off when `haven worker` runs apart).",
        ),
    ] = True,
) -> None:
    """Run the web application and API."""
    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = load_settings(**overrides)
    with open_runtime(settings) as runtime:
        if settings.should_migrate_on_start:
            _migrate(runtime)
        else:
            check_connection(runtime.engine)
        runtime.cipher()
        logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")
        # Every health check asks Alembic for the revision; its chatter is not news.
        logging.getLogger("alembic").setLevel(logging.WARNING)
        out.print(f"Haven is running at http://{settings.host}:{settings.port}/  (Ctrl+C stops it)")
        with embedded_worker(runtime, enabled=with_worker):
            uvicorn.run(
                create_app(runtime),
                host=settings.host,
                port=settings.port,
                log_level=settings.log_level.lower(),
                # Access logs would keep the addresses of people who report; Haven keeps none.
                access_log=False,
                # HAVEN_TRUSTED_PROXIES alone decides whose X-Forwarded-For is believed;
                # uvicorn would otherwise believe any local process.
                proxy_headers=False,
            )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    with _runtime() as runtime:
        _migrate(runtime)
        out.print(f"database is at revision {current_revision(runtime.engine)}")


@db_app.command("status")
def db_status() -> None:
    """Show the database's revision and whether migrations are pending."""
    with _runtime() as runtime:
        check_connection(runtime.engine)
        current, head = current_revision(runtime.engine), head_revision()
        state = "up to date" if current == head else "migrations pending: run `haven db upgrade`"
        out.print(f"revision {current or 'none'} of {head}: {state}")


@keys_app.command("init")
def keys_init(
    if_missing: Annotated[
        bool, typer.Option("--if-missing", help="Do nothing when the key file exists.")
    ] = False,
) -> None:
    """Create a new key file (HAVEN_KEY_FILE). Back it up: without it the data is unreadable."""
    settings = load_settings()
    path = settings.resolved_key_file
    if path.exists() and if_missing:
        load_keyring(path)
        out.print(f"key file {path} exists")
        return
    save_keyring(new_keyring(), path)
    out.print(f"created key file {path} (mode 0600); keep a backup apart from the database")


@keys_app.command("rotate")
def keys_rotate(
    batch_size: Annotated[
        int, typer.Option(min=1, help="Rows re-encrypted per transaction.")
    ] = 1000,
    retire: Annotated[
        bool, typer.Option("--retire", help="Drop old data keys once nothing needs them.")
    ] = False,
) -> None:
    """Add a new data key, re-encrypt every identifying field with it in batches, and optionally
    retire the old keys. Safe to interrupt: old keys stay until --retire finds them unused."""
    with _runtime() as runtime:
        path = runtime.settings.resolved_key_file
        keyring = runtime.cipher().keyring.with_new_data_key()
        save_keyring(keyring, path, overwrite=True)
        saved_at = time.monotonic()
        out.print(f"added data key {keyring.active} to {path}: back this key file up now")
        cipher = FieldCipher(keyring)
        changed = reencrypt_all(runtime.transaction, cipher, batch_size)
        store = EvidenceStore(runtime.settings.resolved_evidence_dir, reserve_bytes=0)
        changed += store.reencrypt(cipher)
        with runtime.transaction() as session:
            change = Change(
                "cli:keys-rotate",
                "rotate",
                "keyring",
                keyring.fingerprint,
                after=str(keyring.active),
            )
            append(session, [change])
        out.print(f"data key {keyring.active} is active; re-encrypted {changed} values")
        if not retire:
            return
        # Running Haven processes switch to a changed key file within KEY_RELOAD_SECONDS; once
        # they have, a second pass catches what they wrote under the old key meanwhile.
        time.sleep(max(0.0, 2 * KEY_RELOAD_SECONDS - (time.monotonic() - saved_at)))
        reencrypt_all(runtime.transaction, cipher, batch_size)
        store.reencrypt(cipher)
        with runtime.reading() as session:
            in_use = key_numbers_in_use(session, cipher) | store.key_numbers_in_use()
        retired = set(keyring.data_keys) - in_use - {keyring.active}
        save_keyring(keyring.without_data_keys(retired), path, overwrite=True)
        out.print(f"retired data keys: {', '.join(map(str, sorted(retired))) or 'none'}")


@audit_app.command("verify")
def audit_verify(
    records: Annotated[
        bool,
        typer.Option(
            "--records", help="Also check every record against its last audited state (slow)."
        ),
    ] = False,
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            "--checkpoint",
            help="Also check that the chain holds the head this signed checkpoint recorded.",
        ),
    ] = None,
    public_key: Annotated[
        Path | None,
        typer.Option(
            "--public-key",
            help="Public key (PEM) the checkpoint must be signed with; default: the one of "
            "HAVEN_AUDIT_SIGNING_KEY_FILE.",
        ),
    ] = None,
) -> None:
    """Check the whole audit chain; name the first entry that was altered or removed. With
    --checkpoint, also find a chain rewritten or cut short since that checkpoint. With
    --records, also name records changed or removed around Haven."""
    with _runtime() as runtime:
        signed = None
        if checkpoint is not None:
            key_path = public_key or runtime.settings.resolved_audit_signing_key_file
            signed = read_checkpoint(_read_text(checkpoint), load_public_key(key_path))
        check_connection(runtime.engine)
        with runtime.reading() as session:
            verdict = verify(session) if signed is None else check_against(session, signed)
        if not verdict.ok:
            raise AuditChainBroken(
                verdict.reason, hint=f"{verdict.checked} entries before it verify"
            )
        out.print(f"audit chain verified: {verdict.checked} entries, head {verdict.head_hash}")
        if signed is not None:
            out.print(
                f"it holds the checkpoint of entry {signed.seq} signed at {signed.at}",
                markup=False,
            )
        if not records:
            return
        cipher = runtime.cipher()
        with runtime.reading() as session:
            found = list(itertools.islice(check_records(session, cipher), 20))
        for discrepancy in found:
            out.print(discrepancy.describe())
        if found:
            raise AuditChainBroken(
                found[0].describe(), hint="records were changed around Haven; see the list above"
            )
        out.print("every record matches its last audited state")


@audit_app.command("keygen")
def audit_keygen(
    if_missing: Annotated[
        bool, typer.Option("--if-missing", help="Keep the signing key when it exists.")
    ] = False,
) -> None:
    """Create the key that signs audit checkpoints (HAVEN_AUDIT_SIGNING_KEY_FILE) and print its
    public key, which verifies them anywhere."""
    path = load_settings().resolved_audit_signing_key_file
    if path.exists() and if_missing:
        key = load_signing_key(path)
        notes.print(f"audit signing key {path} exists; its public key:", markup=False)
    else:
        key = create_signing_key(path)
        notes.print(f"created audit signing key {path} (mode 0600); its public key:", markup=False)
    sys.stdout.write(public_key_pem(key.public_key()))


@audit_app.command("checkpoint")
def audit_checkpoint(
    output: Annotated[
        str,
        typer.Option(
            "--output",
            "-o",
            help="File or directory to write the checkpoint to; - for standard output.",
        ),
    ] = "-",
) -> None:
    """Sign the audit chain's head (after verifying the chain) with the audit signing key, made
    on first use. Keep the checkpoint away from the database: `haven audit verify --checkpoint`
    then finds a chain rewritten or cut short since."""
    with _runtime() as runtime:
        check_connection(runtime.engine)
        key = signing_key(runtime.settings.resolved_audit_signing_key_file)
        with runtime.reading() as session:
            signed = make_checkpoint(session, key, runtime.settings.resolved_base_url)
    if output == "-":
        sys.stdout.write(signed.text)
        return
    path = write_checkpoint(signed, Path(output))
    out.print(f"wrote the checkpoint of entry {signed.checkpoint.seq} to {path}", markup=False)


def _read_text(path: Path) -> str:
    if str(path) == "-":
        return sys.stdin.read()
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValidationFailed(f"checkpoint {path} is not UTF-8 text") from None


@app.command()
def demo(
    incidents: Annotated[int, typer.Option(min=1, help="How many incidents to create.")] = 200,
    seed: Annotated[int, typer.Option(help="Same seed, same data.")] = 2025,
    if_empty: Annotated[
        bool, typer.Option("--if-empty", help="Do nothing when the registry has incidents.")
    ] = False,
) -> None:
    """Fill the registry with synthetic, fictional demo data and demo accounts (development
    only: the accounts' password is published)."""
    with _runtime() as runtime:
        if runtime.settings.mode is Mode.PRODUCTION:
            raise ConfigurationError(
                "demo data and demo accounts are for development; HAVEN_MODE is production"
            )
        _migrate(runtime)
        cipher = runtime.cipher()
        with runtime.transaction() as session:
            accounts = ensure_demo_accounts(session, cipher)
        with runtime.transaction() as session:
            if if_empty and session.query(Incident.id).limit(1).first() is not None:
                out.print("the registry already holds incidents; no demo data added")
                _print_accounts(accounts)
                return
            with Progress(
                TextColumn("demo data"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=out,
                transient=True,
            ) as bar:
                task = bar.add_task("incidents", total=incidents)
                summary = fill(
                    session,
                    cipher,
                    incidents,
                    seed=seed,
                    progress=lambda n: bar.update(task, completed=n),
                )
        out.print(
            f"added {summary.incidents} incidents and {summary.people} people "
            f"({summary.rows} rows) from {len(summary.contributors)} demo organisations: "
            + ", ".join(summary.contributors)
        )
        _print_accounts(accounts)


def _print_accounts(accounts: list[DemoAccount]) -> None:
    table = Table(title=f"Demo accounts (password for all: {DEMO_PASSWORD})")
    table.add_column("login", no_wrap=True)
    for column in ("organisation", "role", "second factor"):
        table.add_column(column)
    for account in accounts:
        factor = "set up at first sign-in" if account.second_factor else "not needed"
        table.add_row(account.login, account.organisation, account.role.value, factor)
    out.print(table)


def run(argv: Sequence[str]) -> int:
    """Run the CLI; every Haven error becomes one line on stderr and exit status 2."""
    err = Console(stderr=True, soft_wrap=True)
    try:
        app(args=list(argv), prog_name="haven")
    except SystemExit as exc:
        # Usage errors, --help and normal completion all end here (Typer's standalone mode).
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except DRIVER_ERRORS as exc:
        err.print(f"error: {database_error(exc).one_line()}", markup=False, highlight=False)
        return 2
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        err.print(f"error: cannot use{where}: {exc.strerror}", markup=False, highlight=False)
        return 2
    except HavenError as exc:
        err.print(f"error: {exc.one_line()}", markup=False, highlight=False)
        return 1 if isinstance(exc, AuditChainBroken) else 2
    return 0


def main() -> None:
    sys.exit(run(sys.argv[1:]))
