"""Signed checkpoints of the audit head: a chain rewritten from any entry to its end, recomputed
as someone with the database could, or cut short, no longer holds a checkpoint made before; a
checkpoint altered or signed by another key is refused."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from builders import incident
from haven.audit.chain import Change, entry_hash, verify
from haven.audit.checkpoint import (
    Checkpoint,
    check_against,
    checkpoint_when_due,
    create_signing_key,
    load_public_key,
    load_signing_key,
    make_checkpoint,
    public_key_pem,
    read_checkpoint,
    signing_key,
)
from haven.audit.models import AuditEntry
from haven.db.dialect import sqlite_timestamp
from haven.errors import AuditChainBroken, KeyFileError, ValidationFailed
from haven.registry.contributors import SYSTEM_CONTRIBUTOR_ID
from haven.registry.writer import Actor, RegistryWriter
from haven.runtime import Runtime, open_runtime
from haven.settings import Settings


def add_incidents(runtime: Runtime, count: int) -> None:
    """Real audit entries: incidents written through the registry writer, one transaction."""
    with runtime.transaction() as session:
        writer = RegistryWriter(
            session, runtime.cipher(), Actor(SYSTEM_CONTRIBUTOR_ID, "test:writer", "test")
        )
        for n in range(count):
            writer.add_incident(incident(title=f"Incident {n}"))
        writer.flush()


def head(runtime: Runtime) -> int:
    with runtime.reading() as session:
        return int(session.scalar(text("SELECT seq FROM audit_head")))


def rewrite_from(runtime: Runtime, first: int) -> None:
    """Edit entry ``first`` and recompute every hash from it to the end, and the head, with
    plain SQL: what someone who can write to the database can do."""
    with runtime.transaction() as session:
        entries = list(
            session.scalars(
                select(AuditEntry).where(AuditEntry.seq >= first).order_by(AuditEntry.seq)
            )
        )
        session.expunge_all()
        previous = entries[0].prev_hash
        for entry in entries:
            actor = "someone else" if entry.seq == first else entry.actor
            change = Change(
                actor,
                entry.action,
                entry.entity,
                entry.entity_id,
                entry.before_digest,
                entry.after_digest,
                entry.surface,
            )
            digest = entry_hash(entry.seq, sqlite_timestamp(entry.at), change, previous)
            session.execute(
                text(
                    "UPDATE audit_log SET actor = :actor, prev_hash = :prev, hash = :hash "
                    "WHERE seq = :seq"
                ),
                {"actor": actor, "prev": previous, "hash": digest, "seq": entry.seq},
            )
            previous = digest
        session.execute(text("UPDATE audit_head SET hash = :hash"), {"hash": previous})


def truncate_after(runtime: Runtime, last: int) -> None:
    with runtime.transaction() as session:
        session.execute(text("DELETE FROM audit_log WHERE seq > :last"), {"last": last})
        kept = session.execute(
            text("SELECT seq, hash FROM audit_log WHERE seq = :last"), {"last": last}
        ).one()
        session.execute(
            text("UPDATE audit_head SET seq = :seq, hash = :hash"),
            {"seq": kept.seq, "hash": kept.hash},
        )


@pytest.fixture
def key(tmp_path: Path) -> Ed25519PrivateKey:
    return create_signing_key(tmp_path / "signing" / "audit-signing-key.pem")


@pytest.fixture
def checkpoint_text(runtime: Runtime, key: Ed25519PrivateKey) -> str:
    add_incidents(runtime, 6)
    with runtime.reading() as session:
        return make_checkpoint(session, key, "https://haven.example").text


def check(runtime: Runtime, document: str, key: Ed25519PrivateKey) -> tuple[Checkpoint, str]:
    checkpoint = read_checkpoint(document, key.public_key())
    with runtime.reading() as session:
        verdict = check_against(session, checkpoint)
    return checkpoint, verdict.reason


def test_an_untouched_chain_holds_its_checkpoint(
    runtime: Runtime, key: Ed25519PrivateKey, checkpoint_text: str
) -> None:
    checkpoint, reason = check(runtime, checkpoint_text, key)
    assert reason == ""
    assert checkpoint.seq == head(runtime) > 0
    assert checkpoint.instance_name == "https://haven.example"
    assert checkpoint.instance_id


def test_a_chain_that_grew_since_still_holds_its_checkpoint(
    runtime: Runtime, key: Ed25519PrivateKey, checkpoint_text: str
) -> None:
    add_incidents(runtime, 3)
    checkpoint, reason = check(runtime, checkpoint_text, key)
    assert reason == ""
    assert head(runtime) > checkpoint.seq


@pytest.mark.parametrize("where", ["first", "middle", "at the checkpoint"])
def test_a_chain_rewritten_to_its_end_no_longer_holds_its_checkpoint(
    runtime: Runtime, key: Ed25519PrivateKey, checkpoint_text: str, where: str
) -> None:
    signed = json.loads(checkpoint_text)["head"]["seq"]
    add_incidents(runtime, 2)
    first = {"first": 1, "middle": signed // 2, "at the checkpoint": signed}[where]
    rewrite_from(runtime, first)
    with runtime.reading() as session:
        assert verify(session).ok  # the recomputed chain verifies on its own
    _, reason = check(runtime, checkpoint_text, key)
    assert f"audit entry {signed} does not match the checkpoint" in reason
    assert f"rewritten at or before entry {signed}" in reason


def test_a_rewrite_after_the_checkpoint_is_not_its_concern(
    runtime: Runtime, key: Ed25519PrivateKey, checkpoint_text: str
) -> None:
    # Only entries up to the checkpoint are vouched for; later ones wait for the next.
    signed = json.loads(checkpoint_text)["head"]["seq"]
    add_incidents(runtime, 2)
    rewrite_from(runtime, signed + 1)
    assert check(runtime, checkpoint_text, key)[1] == ""


def test_a_truncated_chain_is_found(
    runtime: Runtime, key: Ed25519PrivateKey, checkpoint_text: str
) -> None:
    signed = json.loads(checkpoint_text)["head"]["seq"]
    truncate_after(runtime, signed - 2)
    _, reason = check(runtime, checkpoint_text, key)
    assert f"the chain ends at entry {signed - 2}" in reason
    assert f"signed entry {signed}" in reason


def test_a_truncated_and_regrown_chain_is_found(
    runtime: Runtime, key: Ed25519PrivateKey, checkpoint_text: str
) -> None:
    signed = json.loads(checkpoint_text)["head"]["seq"]
    truncate_after(runtime, signed - 2)
    add_incidents(runtime, 2)
    assert head(runtime) >= signed
    _, reason = check(runtime, checkpoint_text, key)
    assert f"audit entry {signed} does not match" in reason


def test_a_broken_chain_is_named_before_the_checkpoint(
    runtime: Runtime, key: Ed25519PrivateKey, checkpoint_text: str
) -> None:
    with runtime.transaction() as session:
        session.execute(text("UPDATE audit_log SET actor = 'x' WHERE seq = 2"))
    _, reason = check(runtime, checkpoint_text, key)
    assert "audit entry 2 was altered" in reason


@pytest.mark.parametrize(
    "alter",
    [
        lambda d: d["head"].update(seq=d["head"]["seq"] - 1),
        lambda d: d["head"].update(hash="0" * 64),
        lambda d: d.update(at="2020-01-01T00:00:00+00:00"),
        lambda d: d["instance"].update(name="https://elsewhere.example"),
    ],
    ids=["seq", "hash", "time", "instance"],
)
def test_an_altered_checkpoint_is_refused(
    key: Ed25519PrivateKey, checkpoint_text: str, alter: Callable[[dict[str, object]], None]
) -> None:
    document = json.loads(checkpoint_text)
    alter(document)
    with pytest.raises(AuditChainBroken, match="signature does not verify"):
        read_checkpoint(json.dumps(document), key.public_key())


def test_a_reformatted_checkpoint_still_verifies(
    key: Ed25519PrivateKey, checkpoint_text: str
) -> None:
    document = json.loads(checkpoint_text)
    reformatted = json.dumps(dict(reversed(document.items())), indent=7)
    assert read_checkpoint(reformatted, key.public_key()).seq == document["head"]["seq"]


def test_a_checkpoint_signed_by_another_key_is_refused(
    runtime: Runtime, key: Ed25519PrivateKey, checkpoint_text: str
) -> None:
    other = Ed25519PrivateKey.generate()
    with runtime.reading() as session:
        forged = make_checkpoint(session, other, "https://haven.example").text
    with pytest.raises(AuditChainBroken, match="signed by another key"):
        read_checkpoint(forged, key.public_key())
    # Claiming the trusted key while signing with another does not help.
    document = json.loads(forged)
    document["public_key"] = json.loads(checkpoint_text)["public_key"]
    with pytest.raises(AuditChainBroken, match="signature does not verify"):
        read_checkpoint(json.dumps(document), key.public_key())


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("not json", "not JSON"),
        ('{"format": "something else"}', "not a Haven audit checkpoint"),
        ('{"format": "haven-audit-checkpoint", "version": 9}', "unsupported checkpoint version"),
        ('{"format": "haven-audit-checkpoint", "version": 1}', "signature is missing"),
        (
            '{"format": "haven-audit-checkpoint", "version": 1, "signature": "AAAA"}',
            "lacks a field",
        ),
    ],
)
def test_a_malformed_checkpoint_is_bad_input(
    key: Ed25519PrivateKey, document: str, message: str
) -> None:
    with pytest.raises(ValidationFailed, match=message):
        read_checkpoint(document, key.public_key())


def test_a_checkpoint_of_a_broken_chain_is_not_signed(
    runtime: Runtime, key: Ed25519PrivateKey
) -> None:
    add_incidents(runtime, 2)
    with runtime.transaction() as session:
        session.execute(text("UPDATE audit_log SET actor = 'x' WHERE seq = 1"))
    with runtime.reading() as session, pytest.raises(AuditChainBroken, match="entry 1"):
        make_checkpoint(session, key, "https://haven.example")


def test_an_empty_chain_has_a_checkpoint_too(runtime: Runtime, key: Ed25519PrivateKey) -> None:
    with runtime.reading() as session:
        document = make_checkpoint(session, key, "x").text
    add_incidents(runtime, 1)
    assert check(runtime, document, key)[1] == ""


def test_the_signing_key_is_private_and_kept_once(tmp_path: Path) -> None:
    path = tmp_path / "audit-signing-key.pem"
    key = signing_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    original = path.read_bytes()
    assert signing_key(path).public_key() == key.public_key()
    with pytest.raises(KeyFileError, match="already exists"):
        create_signing_key(path)
    assert path.read_bytes() == original
    os.chmod(path, 0o644)
    with pytest.raises(KeyFileError, match="other users"):
        load_signing_key(path)


def test_a_public_key_is_read_from_pem_or_from_the_signing_key(
    tmp_path: Path, key: Ed25519PrivateKey
) -> None:
    public = tmp_path / "public.pem"
    public.write_text(public_key_pem(key.public_key()))
    assert load_public_key(public) == key.public_key()
    assert load_public_key(tmp_path / "signing" / "audit-signing-key.pem") == key.public_key()
    public.write_text("not a key")
    with pytest.raises(ValidationFailed, match="not an Ed25519 public key"):
        load_public_key(public)


def test_the_signing_key_stays_out_of_the_database(
    runtime: Runtime, key: Ed25519PrivateKey, dump_tables: Callable[[Session], str]
) -> None:
    path = runtime.settings.data_dir / "signing" / "audit-signing-key.pem"
    body = "".join(path.read_text().splitlines()[1:-1])
    assert len(body) > 40
    with runtime.reading() as session:
        make_checkpoint(session, key, "x")
        assert body not in dump_tables(session)


def test_the_worker_writes_a_checkpoint_when_one_is_due(settings: Settings, tmp_path: Path) -> None:
    directory = tmp_path / "checkpoints"
    configured = settings.model_copy(update={"audit_checkpoint_dir": directory})
    assert configured.resolved_audit_signing_key_file == tmp_path / "audit-signing-key.pem"
    with open_runtime(configured) as runtime:
        add_incidents(runtime, 2)
        written = checkpoint_when_due(runtime)
        assert written is not None
        assert checkpoint_when_due(runtime) is None  # not again within the hour
        key = load_signing_key(configured.resolved_audit_signing_key_file)
        assert check(runtime, written.read_text(), key)[1] == ""
        os.utime(written, (written.stat().st_atime, written.stat().st_mtime - 2 * 3600))
        assert checkpoint_when_due(runtime) not in {None, written}
    assert len(list(directory.glob("checkpoint-*.json"))) == 2


def test_the_worker_writes_none_when_no_directory_is_set(runtime: Runtime) -> None:
    assert checkpoint_when_due(runtime) is None
    assert not runtime.settings.resolved_audit_signing_key_file.exists()
