"""What a running Haven holds: settings, the database engine and the field cipher.

The CLI and the web application build one of these; services receive its session and cipher.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from haven.crypto.fields import FieldCipher
from haven.crypto.keys import Keyring, load_keyring
from haven.db.dialect import read_only
from haven.db.engine import make_engine, session_factory
from haven.db.meta import get_meta, set_meta
from haven.errors import KeyFileError
from haven.settings import Settings

KEYRING_META = "keyring_fingerprint"
KEY_RELOAD_SECONDS = 1.0


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    read_sessions: sessionmaker[Session]
    _cipher: FieldCipher | None = field(default=None, repr=False)
    _stamp: int | None = field(default=None, repr=False)
    _checked_at: float = field(default=0.0, repr=False)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on any error."""
        with self.sessions.begin() as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for reads only: it never waits for, nor blocks, a writer."""
        with self.read_sessions.begin() as session:
            yield session

    def cipher(self) -> FieldCipher:
        """The field cipher, from the key file, checked against the database it belongs to.

        The key file is looked at again every KEY_RELOAD_SECONDS, so a running service follows
        a rotation: it decrypts values under the new key and encrypts with it."""
        now = time.monotonic()
        if self._cipher is not None and now - self._checked_at < KEY_RELOAD_SECONDS:
            return self._cipher
        path = self.settings.resolved_key_file
        try:
            stamp = path.stat().st_mtime_ns
        except OSError:
            stamp = None  # load_keyring says what is wrong
        if self._cipher is None or stamp != self._stamp:
            keyring = load_keyring(path)
            with self.transaction() as session:
                bind_keyring(session, keyring, str(path))
            self._cipher, self._stamp = FieldCipher(keyring), stamp
        self._checked_at = now
        return self._cipher

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def bind_keyring(session: Session, keyring: Keyring, origin: str) -> None:
    """Remember which keyring a database belongs to, and refuse any other."""
    known = get_meta(session, KEYRING_META)
    if known is None:
        set_meta(session, KEYRING_META, keyring.fingerprint)
    elif known != keyring.fingerprint:
        raise KeyFileError(
            f"key file {origin} does not belong to this database",
            hint="point HAVEN_KEY_FILE at the key file this database was created with",
        )


def open_runtime(settings: Settings) -> Runtime:
    engine = make_engine(settings.resolved_database_url)
    return Runtime(
        settings=settings,
        engine=engine,
        sessions=session_factory(engine),
        read_sessions=session_factory(read_only(engine)),
    )
