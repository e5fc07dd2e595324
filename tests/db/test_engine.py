"""The SQLite database Haven creates is its owner's alone, with its -wal and -shm files."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text

from haven.db.engine import make_engine


@contextmanager
def _umask(mask: int) -> Iterator[None]:
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("mask", [0o022, 0o000], ids=["022", "000"])
def test_a_new_sqlite_database_and_its_wal_files_are_0600(tmp_path: Path, mask: int) -> None:
    folder = tmp_path / "data"
    with _umask(mask):
        engine = make_engine(f"sqlite:///{folder / 'haven.db'}")
        try:
            with engine.begin() as connection:
                connection.execute(text("CREATE TABLE t (x INTEGER)"))
                connection.execute(text("INSERT INTO t VALUES (1)"))
                files = sorted(p.name for p in folder.iterdir())
                modes = {p.name: _mode(p) for p in folder.iterdir()}
        finally:
            engine.dispose()
    assert files == ["haven.db", "haven.db-shm", "haven.db-wal"]
    assert modes == dict.fromkeys(files, 0o600)
    assert _mode(folder) == 0o700


def test_an_existing_database_is_opened_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "haven.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
        connection.execute(text("INSERT INTO t VALUES (7)"))
    engine.dispose()
    again = make_engine(f"sqlite:///{path}")
    try:
        with again.connect() as connection:
            assert connection.execute(text("SELECT x FROM t")).scalar() == 7
    finally:
        again.dispose()
