"""The key file: data-encryption keys (rotatable) and the blind-index key (stable).

The file is JSON, written atomically with mode 0600. Data keys are numbered; the active one
encrypts, every listed one can decrypt, so a rotation can re-encrypt in batches while the service
keeps running. The blind-index key never rotates with the data keys: changing it would change every
blind index and break lookups and cross-organisation matching.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import stat
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from haven.errors import KeyFileError

FORMAT = "haven-keyring"
FORMAT_VERSION = 1
KEY_BYTES = 32
# Ciphertexts name their data key in four unsigned bytes.
MAX_KEY_NUMBER = 2**32 - 1


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


@dataclass(frozen=True, slots=True)
class Keyring:
    data_keys: dict[int, bytes]
    active: int
    index_key: bytes
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    @property
    def active_key(self) -> bytes:
        return self.data_keys[self.active]

    @property
    def fingerprint(self) -> str:
        """Identifies the keyring (by its blind-index key) without revealing any key."""
        return hmac.new(self.index_key, b"haven keyring fingerprint", hashlib.sha256).hexdigest()[
            :32
        ]

    def derived_key(self, purpose: str) -> bytes:
        return hmac.new(self.index_key, f"haven {purpose}".encode(), hashlib.sha256).digest()

    def with_new_data_key(self) -> Keyring:
        number = max(self.data_keys) + 1
        keys = {**self.data_keys, number: secrets.token_bytes(KEY_BYTES)}
        return Keyring(
            data_keys=keys, active=number, index_key=self.index_key, created=self.created
        )

    def without_data_keys(self, numbers: set[int]) -> Keyring:
        if self.active in numbers:
            raise KeyFileError("the active data key cannot be retired")
        keys = {n: k for n, k in self.data_keys.items() if n not in numbers}
        return Keyring(
            data_keys=keys, active=self.active, index_key=self.index_key, created=self.created
        )

    def to_json(self) -> str:
        document: dict[str, Any] = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "created": self.created,
            "active": self.active,
            "data_keys": {str(n): _b64(k) for n, k in sorted(self.data_keys.items())},
            "index_key": _b64(self.index_key),
        }
        return json.dumps(document, indent=2) + "\n"


def new_keyring() -> Keyring:
    return Keyring(
        data_keys={1: secrets.token_bytes(KEY_BYTES)},
        active=1,
        index_key=secrets.token_bytes(KEY_BYTES),
    )


def parse_keyring(text: str, *, origin: str = "key file") -> Keyring:
    try:
        document = json.loads(text)
        if document.get("format") != FORMAT:
            raise ValueError("not a Haven key file")
        if document.get("version") != FORMAT_VERSION:
            raise ValueError(f"unsupported key file version {document.get('version')!r}")
        data_keys = {int(n): _unb64(k) for n, k in document["data_keys"].items()}
        active = int(document["active"])
        index_key = _unb64(document["index_key"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise KeyFileError(
            f"{origin} is not a valid Haven key file: {exc}",
            hint="restore it from your backup, or create a new one with `haven keys init` "
            "for a new, empty database",
        ) from None
    if any(not 1 <= number <= MAX_KEY_NUMBER for number in data_keys):
        raise KeyFileError(f"{origin}: data key numbers must lie between 1 and {MAX_KEY_NUMBER}")
    if active not in data_keys:
        raise KeyFileError(f"{origin}: the active key {active} is not in the file")
    if any(len(k) != KEY_BYTES for k in [*data_keys.values(), index_key]):
        raise KeyFileError(f"{origin}: every key must be {KEY_BYTES} bytes")
    return Keyring(
        data_keys=data_keys, active=active, index_key=index_key, created=document.get("created", "")
    )


def load_keyring(path: Path) -> Keyring:
    """Read the key file, refusing one that other users could read or replace: anyone who can
    read it can decrypt every identifying field, and anyone who can write it can swap the keys."""
    try:
        with path.open("rb") as handle:
            # The mode of the file actually read, not of whatever the path names a moment later.
            mode = os.fstat(handle.fileno()).st_mode
            text = handle.read().decode("utf-8")
    except FileNotFoundError:
        raise KeyFileError(
            f"key file {path} does not exist",
            hint="create one with `haven keys init`, or point HAVEN_KEY_FILE at yours",
        ) from None
    except OSError as exc:
        raise KeyFileError(f"key file {path} cannot be read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise KeyFileError(
            f"key file {path} is not a valid Haven key file: it is not UTF-8 text"
        ) from None
    # Parsed first so that a file that is not a key file at all is reported as such.
    keyring = parse_keyring(text, origin=f"key file {path}")
    if stat.S_IMODE(mode) & 0o077:
        raise KeyFileError(
            f"key file {path} can be read or written by other users "
            f"(mode {stat.S_IMODE(mode):04o})",
            hint=f"make it private: chmod 600 {path}",
        )
    return keyring


def save_keyring(keyring: Keyring, path: Path, *, overwrite: bool = False) -> None:
    """Write the key file atomically, readable by its owner only."""
    if path.exists() and not overwrite:
        raise KeyFileError(
            f"key file {path} already exists",
            hint="keep it: it is the only way to read the data it encrypted",
        )
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    # Exactly 0600 before a key is written, whatever the umask: nobody else may open the file,
    # and its owner must be able to replace it when rotating.
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(keyring.to_json())
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)
