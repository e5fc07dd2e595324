"""Checkpoints: the audit chain's head, signed with a key that is kept outside the database.

Whoever can write to the database can rewrite the chain from any entry to its end and recompute
every hash after it; the chain then verifies on its own. A checkpoint kept elsewhere (a file on
another machine, another instance, an e-mail) holds the hash the chain had at one sequence
number, signed with Ed25519 (RFC 8032). A rewritten chain has another hash there; a truncated
chain has no entry there; a checkpoint altered or made without the signing key does not verify.

The signing key is its own file, never the data key file and never in the database, so that a
copy of either does not let anyone sign a checkpoint for a rewritten chain.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
import stat
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from haven.audit.chain import GENESIS, Verdict, verify
from haven.audit.models import AuditEntry
from haven.db.meta import get_meta
from haven.db.values import utcnow
from haven.errors import AuditChainBroken, KeyFileError, ValidationFailed
from haven.runtime import KEYRING_META, Runtime

FORMAT = "haven-audit-checkpoint"
FORMAT_VERSION = 1
_PUBLIC_KEY_BYTES = 32
_HASH_CHARACTERS = 64
# How often the worker writes a checkpoint into HAVEN_AUDIT_CHECKPOINT_DIR: a rewrite of entries
# older than the last checkpoint is found; one of newer entries is not, so the window is short.
CHECKPOINT_EVERY = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    seq: int
    hash: str
    at: str
    instance_name: str
    instance_id: str
    public_key: str

    def payload(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "instance": {"name": self.instance_name, "id": self.instance_id},
            "head": {"seq": self.seq, "hash": self.hash},
            "at": self.at,
            "public_key": self.public_key,
        }


def _canonical(payload: dict[str, Any]) -> bytes:
    # The bytes signed: one spelling of the document whatever the file's own layout, so that a
    # reformatted checkpoint still verifies and any changed value does not.
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def public_key_text(key: Ed25519PublicKey) -> str:
    return _b64(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


def public_key_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


# The signing key file.


def create_signing_key(path: Path) -> Ed25519PrivateKey:
    """Write a new signing key atomically, readable by its owner only; an existing one is kept."""
    if path.exists():
        raise KeyFileError(
            f"audit signing key {path} already exists",
            hint="keep it: checkpoints already sent are verified with it",
        )
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
        handle.flush()
        os.fsync(handle.fileno())
    # A link, not a rename: two processes creating the key at once keep the first one.
    try:
        os.link(temporary, path)
    except FileExistsError:
        return load_signing_key(path)
    finally:
        temporary.unlink()
    return key


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    """Read the signing key, refusing one that other users could read or replace."""
    try:
        with path.open("rb") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            data = handle.read()
    except FileNotFoundError:
        raise KeyFileError(
            f"audit signing key {path} does not exist",
            hint="create it with `haven audit keygen`, or point HAVEN_AUDIT_SIGNING_KEY_FILE at it",
        ) from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"audit signing key {path} is not an Ed25519 private key in PEM")
    if stat.S_IMODE(mode) & 0o077:
        raise KeyFileError(
            f"audit signing key {path} can be read or written by other users "
            f"(mode {stat.S_IMODE(mode):04o})",
            hint=f"make it private: chmod 600 {path}",
        )
    return key


def signing_key(path: Path) -> Ed25519PrivateKey:
    """The signing key, created on first use."""
    if path.exists():
        return load_signing_key(path)
    return create_signing_key(path)


def load_public_key(path: Path) -> Ed25519PublicKey:
    """A public key in PEM (what `haven audit keygen` prints), or the signing key file itself."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise KeyFileError(
            f"public key {path} does not exist",
            hint="give the checkpointing instance's public key (`haven audit keygen --if-missing` "
            "prints it) with --public-key, or point HAVEN_AUDIT_SIGNING_KEY_FILE at its key",
        ) from None
    if b"PRIVATE KEY" in data:
        return load_signing_key(path).public_key()
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, Ed25519PublicKey):
        raise ValidationFailed(f"{path} is not an Ed25519 public key in PEM")
    return key


# Making a checkpoint.


@dataclass(frozen=True, slots=True)
class Signed:
    checkpoint: Checkpoint
    text: str
    # A file name that sorts by time and names the sequence, for a directory of checkpoints.
    name: str


def make_checkpoint(session: Session, key: Ed25519PrivateKey, instance_name: str) -> Signed:
    """The signed checkpoint of the chain's head, as a JSON document. The chain is verified
    first: a checkpoint of a chain that is already broken would vouch for it."""
    verdict = verify(session)
    if not verdict.ok:
        raise AuditChainBroken(
            verdict.reason, hint="no checkpoint is signed for a chain that does not verify"
        )
    now = utcnow()
    checkpoint = Checkpoint(
        seq=verdict.checked,
        hash=verdict.head_hash,
        at=now.isoformat(),
        instance_name=instance_name,
        instance_id=get_meta(session, KEYRING_META) or "",
        public_key=public_key_text(key.public_key()),
    )
    payload = checkpoint.payload()
    document = {**payload, "signature": _b64(key.sign(_canonical(payload)))}
    name = f"{now:checkpoint-%Y%m%dT%H%M%S.%fZ}-{checkpoint.seq}.json"
    return Signed(checkpoint, json.dumps(document, indent=2) + "\n", name)


def write_checkpoint(signed: Signed, target: Path) -> Path:
    """Write the checkpoint to ``target`` atomically (into it under its own name when it is a
    directory); an existing file is never overwritten."""
    path = target / signed.name if target.is_dir() else target
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    with temporary.open("x", encoding="utf-8") as handle:
        handle.write(signed.text)
        handle.flush()
        os.fsync(handle.fileno())
    try:
        os.link(temporary, path)
    finally:
        temporary.unlink()
    return path


def checkpoint_when_due(runtime: Runtime) -> Path | None:
    """A periodic task of the worker: write a checkpoint into HAVEN_AUDIT_CHECKPOINT_DIR when
    the newest one there is older than CHECKPOINT_EVERY (or there is none)."""
    directory = runtime.settings.audit_checkpoint_dir
    if directory is None:
        return None
    directory.mkdir(parents=True, exist_ok=True)
    newest = max((p.stat().st_mtime for p in directory.glob("checkpoint-*.json")), default=None)
    now = utcnow()
    if newest is not None and now.timestamp() - newest < CHECKPOINT_EVERY.total_seconds():
        return None
    key = signing_key(runtime.settings.resolved_audit_signing_key_file)
    with runtime.reading() as session:
        signed = make_checkpoint(session, key, runtime.settings.resolved_base_url)
    return write_checkpoint(signed, directory)


# Reading and checking one.


def read_checkpoint(text: str, trusted: Ed25519PublicKey) -> Checkpoint:
    """Parse a checkpoint and check its signature against the trusted key (never against the
    key it carries, which anyone can replace with their own)."""
    document = _document(text)
    signature = _unb64(document.pop("signature", None), "signature")
    checkpoint = _parse(document)
    if checkpoint.public_key != public_key_text(trusted):
        raise AuditChainBroken(
            "the checkpoint was signed by another key than the one trusted",
            hint="give the public key of the instance that made it with --public-key",
        )
    try:
        trusted.verify(signature, _canonical(document))
    except InvalidSignature:
        raise AuditChainBroken(
            "the checkpoint's signature does not verify: it was altered or forged"
        ) from None
    return checkpoint


def _document(text: str) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except ValueError:
        raise ValidationFailed("the checkpoint is not JSON") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValidationFailed("the checkpoint is not a Haven audit checkpoint")
    if document.get("version") != FORMAT_VERSION:
        raise ValidationFailed(f"unsupported checkpoint version {document.get('version')!r}")
    return document


def _parse(document: dict[str, Any]) -> Checkpoint:
    try:
        head, instance = document["head"], document["instance"]
        checkpoint = Checkpoint(
            seq=head["seq"],
            hash=head["hash"],
            at=document["at"],
            instance_name=instance["name"],
            instance_id=instance["id"],
            public_key=document["public_key"],
        )
    except (KeyError, TypeError):
        raise ValidationFailed("the checkpoint lacks a field it must have") from None
    text_fields = (
        checkpoint.hash,
        checkpoint.at,
        checkpoint.instance_name,
        checkpoint.instance_id,
        checkpoint.public_key,
    )
    if (
        type(checkpoint.seq) is not int
        or checkpoint.seq < 0
        or not all(isinstance(value, str) for value in text_fields)
        or len(checkpoint.hash) != _HASH_CHARACTERS
    ):
        raise ValidationFailed("the checkpoint's head is malformed")
    return checkpoint


def _unb64(value: object, what: str) -> bytes:
    try:
        if not isinstance(value, str):
            raise ValueError(what)
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (ValueError, binascii.Error):
        raise ValidationFailed(f"the checkpoint's {what} is missing or malformed") from None


def check_against(session: Session, checkpoint: Checkpoint) -> Verdict:
    """Verify the chain from its start, then that it holds the checkpoint's hash at the
    checkpoint's sequence number (and so extends from it): a chain rewritten from any entry at
    or before that number has another hash there; a truncated one has no entry there."""
    known = get_meta(session, KEYRING_META)
    if checkpoint.instance_id and known and checkpoint.instance_id != known:
        raise ValidationFailed(
            f"the checkpoint was made by another instance ({checkpoint.instance_name})"
        )
    verdict = verify(session)
    if not verdict.ok:
        return verdict
    when = _when(checkpoint.at)
    if verdict.checked < checkpoint.seq:
        return Verdict(
            verdict.checked,
            verdict.head_hash,
            verdict.checked + 1,
            f"the chain ends at entry {verdict.checked} but the checkpoint of {when} signed "
            f"entry {checkpoint.seq}: entries were removed from the end",
        )
    found: str | None = GENESIS
    if checkpoint.seq:
        found = session.scalar(select(AuditEntry.hash).where(AuditEntry.seq == checkpoint.seq))
    if found != checkpoint.hash:
        return Verdict(
            verdict.checked,
            verdict.head_hash,
            checkpoint.seq,
            f"audit entry {checkpoint.seq} does not match the checkpoint of {when}: the chain "
            f"was rewritten at or before entry {checkpoint.seq}",
        )
    return verdict


def _when(at: str) -> str:
    try:
        return datetime.fromisoformat(at).strftime("%Y-%m-%d %H:%M:%S UTC")
    except ValueError:
        return at
