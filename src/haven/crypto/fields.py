"""Encryption of identifying fields (AES-256-GCM) and keyed blind indexes for exact lookups.

A ciphertext is ``version (1 byte) | data key number (4 bytes) | nonce (12 bytes) |
ciphertext+tag``.
The associated data binds it to one column of one record, so a ciphertext copied to another row or
column fails to decrypt instead of silently showing another person's data.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import struct
import unicodedata

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from haven.crypto.keys import Keyring
from haven.errors import KeyFileError

CIPHERTEXT_VERSION = 1
_HEADER = struct.Struct(">BI")
_NONCE_BYTES = 12
_TAG_BYTES = 16
_MINIMUM_LENGTH = _HEADER.size + _NONCE_BYTES + _TAG_BYTES


# Scripts whose combining marks are accents on a letter that stands on its own: people write
# "Ozdemir" for "Özdemir" and "Nguyen" for "Nguyễn". In other scripts a mark is often a vowel sign
# or a letter in its own right (Devanagari "किरण" and "करण", Japanese "がとう" and "かとう" are
# different names), so folding it away would merge different people. Arabic and Hebrew are the
# exceptions: their short-vowel marks (harakat, niqqud) are optional and mostly left unwritten,
# so "مُحَمَّد" and "محمد" are the same name.
_ACCENTED_SCRIPTS = ("LATIN", "GREEK", "CYRILLIC", "ARABIC", "HEBREW")

# A telephone number as people write it: digits grouped by spaces, dots, hyphens, slashes or
# parentheses, optionally after a leading "+".
_TELEPHONE = re.compile(r"\+?[\d\s./()-]+")
_TELEPHONE_MIN_DIGITS = 6


def normalise(value: str) -> str:
    """The form a value is compared in: compatibility-normalised, case-folded, accents on Latin,
    Greek and Cyrillic letters removed, punctuation dropped, whitespace collapsed.
    "AYŞE  Özdemir" and "ayse ozdemir" match; marks that make a different letter or syllable in
    other scripts are kept."""
    # Decompose first: compatibility characters such as "№" or "™" only become letters that
    # case-folding understands once decomposed; decomposing again catches what folding produced.
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", value).casefold())
    kept = []
    keep_marks = False
    for char in decomposed:
        category = unicodedata.category(char)
        if category.startswith("M"):
            # A mark belongs to the letter before it (through any marks in between); one after
            # punctuation, a space or nothing at all has no letter to distinguish.
            if keep_marks:
                kept.append(char)
            continue
        if category[0] in "LN":
            kept.append(char)
            keep_marks = not unicodedata.name(char, "").startswith(_ACCENTED_SCRIPTS)
        else:
            kept.append(" ")
            keep_marks = False
    return " ".join("".join(kept).split())


def normalise_contact(value: str) -> str:
    """The form a contact is compared in. A telephone number is its digits, with the leading "+"
    when there is one, so "+49 151 2345-6789" and "+4915123456789" match however the number was
    grouped; anything else (an e-mail address, a handle) is normalised like any other value."""
    stripped = value.strip()
    if _TELEPHONE.fullmatch(stripped):
        # Any decimal digit counts (Arabic-Indic, full-width); compared by its value.
        digits = "".join(str(unicodedata.decimal(char)) for char in stripped if char.isdecimal())
        if len(digits) >= _TELEPHONE_MIN_DIGITS:
            return ("+" if stripped.startswith("+") else "") + digits
    return normalise(value)


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

    def reencrypt(self, ciphertext: bytes, context: str) -> bytes | None:
        """The ciphertext under the active key, or None when it already uses it."""
        _, number = self.key_number(ciphertext)
        if number == self.keyring.active:
            return None
        return self.encrypt(self.decrypt(ciphertext, context), context)

    def blind_index(self, kind: str, value: str) -> str:
        """HMAC-SHA256 of the normalised value; equal values give equal indexes, nothing else
        about the value can be learnt without the key."""
        comparable = normalise_contact(value) if kind == "contact" else normalise(value)
        message = f"{kind}\x1f{comparable}".encode()
        return hmac.digest(self._index_key, message, "sha256").hex()

    def digest(self, payload: bytes) -> str:
        """Keyed digest for the audit chain: stable across data-key rotation, and a guessed name
        cannot be confirmed against it without the key. Keyed BLAKE2b is a MAC in its own
        right (RFC 7693) and cheaper than HMAC on the bulk path, where every record needs one."""
        return hashlib.blake2b(payload, key=self._digest_key, digest_size=32).hexdigest()
