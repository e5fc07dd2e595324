"""`haven audit keygen`, `haven audit checkpoint` and `haven audit verify --checkpoint`: exit 0
when the chain holds the checkpoint, 1 on a finding, 2 on bad input."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from audit.test_checkpoint import add_incidents, rewrite_from, truncate_after
from haven.runtime import Runtime
from haven.settings import Settings

Cli = Callable[..., Any]


@pytest.fixture
def signing_key_file(settings: Settings) -> Path:
    return settings.resolved_audit_signing_key_file


@pytest.fixture
def checkpoint(cli: Cli, runtime: Runtime, tmp_path: Path) -> tuple[Path, int]:
    add_incidents(runtime, 5)
    path = tmp_path / "elsewhere" / "checkpoint.json"
    path.parent.mkdir()
    made = cli("audit", "checkpoint", "--output", str(path))
    assert made.code == 0, made.err
    return path, json.loads(path.read_text())["head"]["seq"]


def test_keygen_makes_a_private_key_once_and_prints_its_public_key(
    cli: Cli, signing_key_file: Path
) -> None:
    made = cli("audit", "keygen")
    assert made.code == 0, made.err
    assert made.out.startswith("-----BEGIN PUBLIC KEY-----")
    assert stat.S_IMODE(signing_key_file.stat().st_mode) == 0o600
    assert signing_key_file.parent == signing_key_file.with_name("keys.json").parent
    original = signing_key_file.read_bytes()
    again = cli("audit", "keygen")
    assert again.code == 2
    assert "already exists" in again.err
    kept = cli("audit", "keygen", "--if-missing")
    assert kept.code == 0
    assert kept.out == made.out
    assert signing_key_file.read_bytes() == original


def test_checkpoint_to_standard_output_makes_the_key_on_first_use(
    cli: Cli, runtime: Runtime, signing_key_file: Path
) -> None:
    add_incidents(runtime, 2)
    assert not signing_key_file.exists()
    made = cli("audit", "checkpoint")
    assert made.code == 0, made.err
    document = json.loads(made.out)
    assert document["format"] == "haven-audit-checkpoint"
    assert document["head"]["seq"] > 0
    assert signing_key_file.exists()


def test_checkpoint_into_a_directory_takes_its_own_name(
    cli: Cli, runtime: Runtime, tmp_path: Path
) -> None:
    add_incidents(runtime, 1)
    directory = tmp_path / "checkpoints"
    directory.mkdir()
    assert cli("audit", "checkpoint", "-o", str(directory)).code == 0
    assert cli("audit", "checkpoint", "-o", str(directory)).code == 0
    written = sorted(directory.glob("checkpoint-*.json"))
    assert len(written) == 2


def test_an_untouched_chain_verifies_against_its_checkpoint(
    cli: Cli, checkpoint: tuple[Path, int]
) -> None:
    path, seq = checkpoint
    verified = cli("audit", "verify", "--checkpoint", str(path))
    assert verified.code == 0, verified.err
    assert f"holds the checkpoint of entry {seq}" in verified.out


def test_a_rewritten_chain_passes_verify_but_not_its_checkpoint(
    cli: Cli, runtime: Runtime, checkpoint: tuple[Path, int]
) -> None:
    path, seq = checkpoint
    add_incidents(runtime, 2)
    rewrite_from(runtime, 3)
    assert cli("audit", "verify", "--records").code == 0
    found = cli("audit", "verify", "--checkpoint", str(path))
    assert found.code == 1
    assert f"audit entry {seq} does not match the checkpoint" in found.err


def test_a_truncated_chain_fails_its_checkpoint(
    cli: Cli, runtime: Runtime, checkpoint: tuple[Path, int]
) -> None:
    path, seq = checkpoint
    truncate_after(runtime, seq - 1)
    assert cli("audit", "verify").code == 0
    found = cli("audit", "verify", "--checkpoint", str(path))
    assert found.code == 1
    assert f"the chain ends at entry {seq - 1}" in found.err


def test_an_altered_checkpoint_is_refused(cli: Cli, checkpoint: tuple[Path, int]) -> None:
    path, seq = checkpoint
    document = json.loads(path.read_text())
    document["head"]["seq"] = seq - 1
    path.write_text(json.dumps(document))
    refused = cli("audit", "verify", "--checkpoint", str(path))
    assert refused.code == 1
    assert "signature does not verify" in refused.err


def test_a_checkpoint_of_another_key_is_refused_and_its_own_key_is_given_apart(
    cli: Cli, checkpoint: tuple[Path, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = checkpoint
    public = tmp_path / "trusted.pem"
    public.write_text(cli("audit", "keygen", "--if-missing").out)
    monkeypatch.setenv("HAVEN_AUDIT_SIGNING_KEY_FILE", str(tmp_path / "other.pem"))
    assert cli("audit", "keygen").code == 0
    other = cli("audit", "verify", "--checkpoint", str(path))
    assert other.code == 1
    assert "signed by another key" in other.err
    given = cli("audit", "verify", "--checkpoint", str(path), "--public-key", str(public))
    assert given.code == 0, given.err


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "cannot use"), ("{", "not JSON"), ('{"format": "x"}', "not a Haven audit checkpoint")],
)
def test_bad_input_exits_2(
    cli: Cli, checkpoint: tuple[Path, int], tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "given.json"
    if content is not None:
        path.write_text(content)
    outcome = cli("audit", "verify", "--checkpoint", str(path))
    assert outcome.code == 2
    assert message in outcome.err


def test_verify_without_the_signing_key_says_how_to_get_one(
    cli: Cli, checkpoint: tuple[Path, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = checkpoint
    monkeypatch.setenv("HAVEN_AUDIT_SIGNING_KEY_FILE", str(tmp_path / "absent.pem"))
    outcome = cli("audit", "verify", "--checkpoint", str(path))
    assert outcome.code == 2
    assert "does not exist" in outcome.err
