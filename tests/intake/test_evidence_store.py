"""The evidence directory and its subdirectories are their owner's alone."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from haven.crypto.fields import FieldCipher
from haven.intake.files import EvidenceStore
from haven.runtime import Runtime


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_evidence_directories_are_created_0700(tmp_path: Path, runtime: Runtime) -> None:
    cipher: FieldCipher = runtime.cipher()
    store = EvidenceStore(tmp_path / "evidence", reserve_bytes=0)
    previous = os.umask(0o022)
    try:
        path = store.put(cipher, "0190f0e0-0000-7000-8000-0000000000ab", "original", b"note")
    finally:
        os.umask(previous)
    assert path.parent.parent == tmp_path / "evidence"
    assert _mode(tmp_path / "evidence") == 0o700
    assert _mode(path.parent) == 0o700
    assert store.get(cipher, "0190f0e0-0000-7000-8000-0000000000ab", "original") == b"note"
