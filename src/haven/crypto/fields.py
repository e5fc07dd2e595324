"""Encryption of identifying fields (AES-256-GCM) and keyed blind indexes for exact lookups.

A ciphertext is ``version (1 byte) | data key number (4 bytes) | nonce (12 bytes) |
ciphertext+tag``.
The associated data binds it to one column of one record, so a ciphertext copied to another row or
column fails to decrypt instead of silently showing another person's data.
"""

from __future__ import annotations

import hmac
import json
import os
import struct
import unicodedata
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from haven.crypto.keys import Keyring
from haven.errors import KeyFileError

CIPHERTEXT_VERSION = 1
_HEADER = struct.Struct(">BI")
_NONCE_BYTES = 12
_TAG_BYTES = 16
_MINIMUM_LENGTH = _HEADER.size + _NONCE_BYTES + _TAG_BYTES


def normalise(value: str) -> str:
    """The form a value is compared in: compatibility-normalised, case-folded, accents removed,
    punctuation dropped, whitespace collapsed. "AYŞE  Özdemir" and "ayse ozdemir" match."""
    # Decompose first: compatibility characters such as "№" or "™" only become letters that
    # case-folding understands once decomposed; decomposing again catches what folding produced.
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", value).casefold())
    kept = []
    for char in decomposed:
        category = unicodedata.category(char)
        if category.startswith("M"):
            continue
        kept.append(char if category[0] in "LN" else " ")
    return " ".join("".join(kept).split())


class FieldCipher:
    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring
        self._aeads = {number: AESGCM(key) for number, key in keyring.data_keys.items()}
        self._index_key = keyring.derived_key("blind index")
        self._digest_key = keyring.derived_key("audit digest")

    def encrypt(self, plaintext: bytes, context: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aeads[self.keyring.active].encrypt(nonce, plaintext, context.encode())
        return _HEADER.pack(CIPHERTEXT_VERSION, self.keyring.active) + nonce + sealed

    def decrypt(self, ciphertext: bytes, context: str) -> bytes:
        _, number = self.key_number(ciphertext)
        aead = self._aeads.get(number)
        if aead is None:
            raise KeyFileError(
                f"data was encrypted with data key {number}, which the key file does not hold",
                hint="use the key file this database was created with",
            )
        start = _HEADER.size
        nonce = ciphertext[start : start + _NONCE_BYTES]
        try:
            return aead.decrypt(nonce, ciphertext[start + _NONCE_BYTES :], context.encode())
        except InvalidTag:
            raise KeyFileError(
                f"a {context.split(':', 1)[0]} value does not decrypt with data key {number}",
                hint="the key file does not match this database, or the value was altered",
            ) from None

    @staticmethod
    def key_number(ciphertext: bytes) -> tuple[int, int]:
        if len(ciphertext) < _MINIMUM_LENGTH:
            raise KeyFileError("a stored ciphertext is truncated")
        version, number = _HEADER.unpack_from(ciphertext)
        if version != CIPHERTEXT_VERSION:
            raise KeyFileError(f"unknown ciphertext version {version}")
        return version, number

    def encrypt_json(self, value: Any, context: str) -> bytes:
        return self.encrypt(json.dumps(value, ensure_ascii=False, sort_keys=True).encode(), context)

    def decrypt_json(self, ciphertext: bytes, context: str) -> Any:
        return json.loads(self.decrypt(ciphertext, context))

    def reencrypt(self, ciphertext: bytes, context: str) -> bytes | None:
        """The ciphertext under the active key, or None when it already uses it."""
        _, number = self.key_number(ciphertext)
        if number == self.keyring.active:
            return None
        return self.encrypt(self.decrypt(ciphertext, context), context)

    def blind_index(self, kind: str, value: str) -> str:
        """HMAC-SHA256 of the normalised value; equal values give equal indexes, nothing else
        about the value can be learnt without the key."""
        message = f"{kind}\x1f{normalise(value)}".encode()
        return hmac.digest(self._index_key, message, "sha256").hex()

    def digest(self, payload: bytes) -> str:
        """Keyed digest for the audit chain: stable across data-key rotation, and a guessed name
        cannot be confirmed against it without the key."""
        return hmac.digest(self._digest_key, payload, "sha256").hex()
