from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import typer
from sqlalchemy import select, update

from haven.access.models import User
from haven.audit.models import AuditEntry
from haven.cli.main import app
from haven.crypto.fields import FieldCipher
from haven.crypto.keys import load_keyring, new_keyring, save_keyring
from haven.domain.enums import ReportChannel
from haven.intake.files import EvidenceStore, check_file
from haven.intake.models import Report
from haven.intake.reports import (
    ReportIn,
    Submission,
    intake_organisation,
    open_json,
    submit_report,
)
from haven.registry.models import Person
from haven.registry.sealed import (
    SEALED_COLUMNS,
    key_numbers_in_use,
    read_identity,
    reencrypt_batch,
)
from haven.runtime import KEY_RELOAD_SECONDS, Runtime
from haven.settings import Settings

Cli = Callable[..., Any]


def _command_paths(command: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [prefix]
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            paths.extend(_command_paths(sub, (*prefix, name)))
    return paths


def test_every_command_has_help(cli: Cli) -> None:
    paths = _command_paths(typer.main.get_command(app))
    assert ("keys", "rotate") in paths
    assert ("audit", "verify") in paths
    for path in paths:
        outcome = cli(*path, "--help")
        assert outcome.code == 0, path
        assert "Usage" in outcome.out, path


def test_keys_init_creates_a_private_key_file_once(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = tmp_path / "new" / "keys.json"
    monkeypatch.setenv("HAVEN_KEY_FILE", str(key_file))
    assert cli("keys", "init").code == 0
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    original = key_file.read_text()
    again = cli("keys", "init")
    assert again.code == 2
    assert "already exists" in again.err
    assert key_file.read_text() == original
    assert cli("keys", "init", "--if-missing").code == 0
    assert key_file.read_text() == original


def test_audit_verify_reports_an_altered_row(cli: Cli, runtime: Runtime) -> None:
    assert cli("demo", "--incidents", "5").code == 0
    verified = cli("audit", "verify")
    assert verified.code == 0
    assert "audit chain verified" in verified.out
    with runtime.transaction() as session:
        session.execute(update(AuditEntry).where(AuditEntry.seq == 7).values(entity_id="forged"))
    broken = cli("audit", "verify")
    assert broken.code == 1
    assert "audit entry 7 was altered" in broken.err
    assert "6 entries before it verify" in broken.err


def test_a_missing_key_file_gets_one_line_with_the_fix(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HAVEN_KEY_FILE", str(tmp_path / "absent.json"))
    outcome = cli("demo", "--incidents", "1")
    assert outcome.code == 2
    assert "does not exist" in outcome.err
    assert "haven keys init" in outcome.err
    assert outcome.err.count("\n") == 1


def test_a_key_file_from_another_database_is_refused(
    cli: Cli, cipher: FieldCipher, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other.json"
    save_keyring(new_keyring(), other)
    monkeypatch.setenv("HAVEN_KEY_FILE", str(other))
    outcome = cli("demo", "--incidents", "1")
    assert outcome.code == 2
    assert "does not belong to this database" in outcome.err


def test_a_malformed_key_file_is_refused(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    monkeypatch.setenv("HAVEN_KEY_FILE", str(broken))
    outcome = cli("demo", "--incidents", "1")
    assert outcome.code == 2
    assert "not a valid Haven key file" in outcome.err


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql+psycopg://postgres@127.0.0.1:1/haven", "cannot reach the database"),
        ("not a url", "not a database URL"),
        ("mysql://root@127.0.0.1/haven", "Haven runs on SQLite or PostgreSQL"),
    ],
)
def test_an_unusable_database_gets_one_line(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, url: str, expected: str
) -> None:
    monkeypatch.setenv("HAVEN_DATABASE_URL", url)
    outcome = cli("db", "upgrade")
    assert outcome.code == 2
    assert expected in outcome.err
    assert outcome.err.count("\n") == 1


def test_a_broken_setting_gets_one_line(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAVEN_PORT", "eighty")
    outcome = cli("db", "status")
    assert outcome.code == 2
    assert outcome.err.startswith("error: HAVEN_PORT:")


def test_db_status_reports_an_up_to_date_schema(cli: Cli) -> None:
    outcome = cli("db", "status")
    assert outcome.code == 0
    assert "up to date" in outcome.out


def test_keys_rotate_reencrypts_everything_and_retires_the_old_key(
    cli: Cli, runtime: Runtime, settings: Settings
) -> None:
    assert cli("demo", "--incidents", "8").code == 0
    rotated = cli("keys", "rotate", "--batch-size", "3", "--retire")
    assert rotated.code == 0, rotated.err
    assert "retired data keys: 1" in rotated.out
    keyring = load_keyring(settings.resolved_key_file)
    assert set(keyring.data_keys) == {2}
    cipher = FieldCipher(keyring)
    with runtime.transaction() as session:
        people = session.execute(select(Person.id, Person.identity)).all()
        assert people
        for person_id, ciphertext in people:
            assert ciphertext is not None
            assert cipher.key_number(ciphertext)[1] == 2
            identity = read_identity(session, cipher, person_id)
            assert identity is not None
            assert identity.names
    assert cli("audit", "verify").code == 0


def test_keys_rotate_covers_logins_reports_and_evidence_files(
    cli: Cli, runtime: Runtime, settings: Settings
) -> None:
    assert cli("demo", "--incidents", "2").code == 0
    store = EvidenceStore(settings.resolved_evidence_dir, reserve_bytes=0)
    report = ReportIn.model_validate(
        {
            "what_happened": "Calls to my mother in Minsk",
            "tactics": ["coercion-by-proxy"],
            "occurred": {"start": "2026-01-01", "precision": "year"},
            "origin_state": "BY",
            "contact": {"method": "email", "address": "safe@example.org"},
        }
    )
    checked = check_file("note.txt", b"they called again", max_bytes=1000)
    cipher = runtime.cipher()
    with runtime.transaction() as session:
        handler = intake_organisation(session)
        assert handler is not None
        submission = Submission(handler, ReportChannel.PUBLIC_FORM, "reporter", "test")
        receipt = submit_report(
            session, cipher, report, submission, [checked], store=store, written=[]
        )
        report_id = receipt.report_id
    assert store.key_numbers_in_use() == {1}

    rotated = cli("keys", "rotate", "--retire")

    assert rotated.code == 0, rotated.err
    assert "retired data keys: 1" in rotated.out
    cipher = FieldCipher(load_keyring(settings.resolved_key_file))
    assert set(cipher.keyring.data_keys) == {2}
    assert store.key_numbers_in_use() == {2}
    (evidence_id, _, _), *_ = store.files()
    assert store.get(cipher, evidence_id, "original") == b"they called again"
    with runtime.reading() as session:
        stored = session.get(Report, report_id)
        assert stored is not None
        assert open_json(cipher, "contact", stored)["address"] == "safe@example.org"
        for user in session.scalars(select(User)):
            assert cipher.key_number(user.login)[1] == 2
            cipher.decrypt(user.login, f"users.login:{user.id}")


def test_the_installed_command_prints_errors_without_a_traceback(
    settings: Settings, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "HAVEN_DATABASE_URL": settings.database_url,
        "HAVEN_KEY_FILE": str(tmp_path / "missing.json"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "haven", "demo", "--incidents", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: key file")


def test_demo_summary_is_printed(cli: Cli) -> None:
    outcome = cli("demo", "--incidents", "3")
    assert outcome.code == 0
    assert "added 3 incidents" in outcome.out


def test_an_interrupted_rotation_loses_nothing_and_a_rerun_finishes_it(
    cli: Cli, runtime: Runtime, settings: Settings
) -> None:
    assert cli("demo", "--incidents", "6").code == 0
    path = settings.resolved_key_file
    # A rotation that stopped after its first batch: new key saved, most values still old.
    interrupted = load_keyring(path).with_new_data_key()
    save_keyring(interrupted, path, overwrite=True)
    with runtime.transaction() as session:
        reencrypt_batch(session, FieldCipher(interrupted), SEALED_COLUMNS[1], None, 2)
    with runtime.reading() as session:
        assert key_numbers_in_use(session, FieldCipher(interrupted)) == {1, 2}

    rerun = cli("keys", "rotate", "--batch-size", "4", "--retire")

    assert rerun.code == 0, rerun.err
    assert "retired data keys: 1, 2" in rerun.out
    final = FieldCipher(load_keyring(path))
    assert set(final.keyring.data_keys) == {3}
    with runtime.reading() as session:
        assert key_numbers_in_use(session, final) == {3}
        for person_id in session.scalars(select(Person.id)):
            read_identity(session, final, person_id)
    assert cli("audit", "verify").code == 0


def test_a_running_service_follows_a_rotation(runtime: Runtime, settings: Settings) -> None:
    before = runtime.cipher()
    rotated = before.keyring.with_new_data_key()
    save_keyring(rotated, settings.resolved_key_file, overwrite=True)
    os.utime(settings.resolved_key_file, ns=(1, 1))  # a new modification time, whatever the clock
    time.sleep(KEY_RELOAD_SECONDS + 0.1)
    after = runtime.cipher()
    assert after.keyring.active == 2
    assert after.key_number(after.encrypt(b"x", "t"))[1] == 2
