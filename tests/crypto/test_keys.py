from __future__ import annotations

import base64
import json
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from haven.crypto.keys import (
    KEY_BYTES,
    Keyring,
    load_keyring,
    new_keyring,
    parse_keyring,
    save_keyring,
)
from haven.errors import KeyFileError


def _document(keyring: Keyring) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(keyring.to_json())
    return document


def _write(path: Path, document: dict[str, Any]) -> None:
    path.write_text(json.dumps(document), encoding="utf-8")


def test_a_new_keyring_has_one_active_data_key_and_an_index_key() -> None:
    keyring = new_keyring()
    assert keyring.active == 1
    assert set(keyring.data_keys) == {1}
    assert len(keyring.active_key) == KEY_BYTES
    assert len(keyring.index_key) == KEY_BYTES
    assert keyring.active_key != keyring.index_key


def test_two_new_keyrings_share_no_key() -> None:
    first, second = new_keyring(), new_keyring()
    assert first.active_key != second.active_key
    assert first.index_key != second.index_key
    assert first.fingerprint != second.fingerprint


def test_a_saved_keyring_loads_back_unchanged(tmp_path: Path) -> None:
    keyring = new_keyring().with_new_data_key()
    path = tmp_path / "keys.json"
    save_keyring(keyring, path)
    loaded = load_keyring(path)
    assert loaded == keyring
    assert loaded.data_keys == keyring.data_keys
    assert loaded.active == 2
    assert loaded.index_key == keyring.index_key
    assert loaded.created == keyring.created
    assert loaded.fingerprint == keyring.fingerprint


def test_the_key_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    save_keyring(new_keyring(), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_overwritten_key_file_is_still_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text("{}", encoding="utf-8")
    path.chmod(0o644)
    save_keyring(new_keyring(), path, overwrite=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@contextmanager
def _umask(mask: int) -> Iterator[None]:
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.parametrize("mask", [0o000, 0o022, 0o277], ids=["000", "022", "277"])
def test_the_key_file_is_0600_whatever_the_umask(tmp_path: Path, mask: int) -> None:
    path = tmp_path / "keys.json"
    with _umask(mask):
        save_keyring(new_keyring(), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_keyring(path).active == 1


def test_a_new_key_folder_is_its_owners_alone(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "keys.json"
    with _umask(0o000):
        save_keyring(new_keyring(), path)
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_saving_creates_missing_parent_folders(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "keys.json"
    keyring = new_keyring()
    save_keyring(keyring, path)
    assert load_keyring(path) == keyring


def test_saving_leaves_no_temporary_file_behind(tmp_path: Path) -> None:
    save_keyring(new_keyring(), tmp_path / "keys.json")
    assert [p.name for p in tmp_path.iterdir()] == ["keys.json"]


def test_saving_refuses_to_overwrite_an_existing_key_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    original = new_keyring()
    save_keyring(original, path)
    with pytest.raises(KeyFileError) as caught:
        save_keyring(new_keyring(), path)
    assert "already exists" in caught.value.message
    assert caught.value.hint is not None
    assert load_keyring(path) == original


def test_saving_with_overwrite_replaces_the_key_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    save_keyring(new_keyring(), path)
    replacement = new_keyring()
    save_keyring(replacement, path, overwrite=True)
    assert load_keyring(path) == replacement


def test_loading_a_missing_key_file_says_how_to_create_one(tmp_path: Path) -> None:
    path = tmp_path / "absent.json"
    with pytest.raises(KeyFileError) as caught:
        load_keyring(path)
    assert str(path) in caught.value.message
    assert caught.value.hint is not None
    assert "haven keys init" in caught.value.hint


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o602, 0o660])
def test_a_key_file_other_users_can_read_or_write_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "keys.json"
    save_keyring(new_keyring(), path)
    path.chmod(mode)
    with pytest.raises(KeyFileError) as caught:
        load_keyring(path)
    assert str(path) in caught.value.message
    assert caught.value.hint == f"make it private: chmod 600 {path}"


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_a_key_file_only_its_owner_can_use_loads(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "keys.json"
    keyring = new_keyring()
    save_keyring(keyring, path)
    path.chmod(mode)
    assert load_keyring(path) == keyring


def test_a_shared_file_that_is_not_a_key_file_is_reported_as_not_a_key_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "keys.json"
    path.write_text("{not json", encoding="utf-8")
    path.chmod(0o644)
    with pytest.raises(KeyFileError, match="not a valid Haven key file"):
        load_keyring(path)


def test_loading_a_folder_instead_of_a_key_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="cannot be read"):
        load_keyring(tmp_path)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not json at all",
        "[1, 2, 3]",
        '"a string"',
        "null",
        "{}",
        '{"format": "something-else", "version": 1}',
    ],
)
def test_a_key_file_that_is_not_a_haven_key_file_is_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "keys.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(KeyFileError) as caught:
        load_keyring(path)
    assert "not a valid Haven key file" in caught.value.message
    assert caught.value.hint is not None
    assert "haven keys init" in caught.value.hint


def test_a_key_file_that_is_not_text_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_bytes(b"\xff\xfe\x00\x01 binary garbage")
    with pytest.raises(KeyFileError):
        load_keyring(path)


def test_a_key_file_of_an_unsupported_version_is_refused(tmp_path: Path) -> None:
    document = _document(new_keyring())
    document["version"] = 2
    path = tmp_path / "keys.json"
    _write(path, document)
    with pytest.raises(KeyFileError, match="unsupported key file version 2"):
        load_keyring(path)


@pytest.mark.parametrize("field", ["data_keys", "active", "index_key"])
def test_a_key_file_missing_a_field_is_refused(tmp_path: Path, field: str) -> None:
    document = _document(new_keyring())
    del document[field]
    path = tmp_path / "keys.json"
    _write(path, document)
    with pytest.raises(KeyFileError, match="not a valid Haven key file"):
        load_keyring(path)


@pytest.mark.parametrize("bad", ["not base64!", "QUJ", "é" * 44, "QUJD\nREVG"])
def test_a_key_file_with_bad_base64_is_refused(tmp_path: Path, bad: str) -> None:
    path = tmp_path / "keys.json"
    for field in ("index_key", "data_key"):
        document = _document(new_keyring())
        if field == "index_key":
            document["index_key"] = bad
        else:
            document["data_keys"]["1"] = bad
        _write(path, document)
        with pytest.raises(KeyFileError, match="not a valid Haven key file"):
            load_keyring(path)


def test_a_key_file_with_a_non_numeric_key_number_is_refused(tmp_path: Path) -> None:
    document = _document(new_keyring())
    document["data_keys"] = {"one": document["data_keys"]["1"]}
    document["active"] = "one"
    path = tmp_path / "keys.json"
    _write(path, document)
    with pytest.raises(KeyFileError, match="not a valid Haven key file"):
        load_keyring(path)


@pytest.mark.parametrize("length", [0, 16, 31, 33, 64])
def test_a_key_file_with_a_key_of_the_wrong_length_is_refused(tmp_path: Path, length: int) -> None:
    wrong = base64.b64encode(b"k" * length).decode("ascii")
    path = tmp_path / "keys.json"
    for field in ("index_key", "data_key"):
        document = _document(new_keyring())
        if field == "index_key":
            document["index_key"] = wrong
        else:
            document["data_keys"]["1"] = wrong
        _write(path, document)
        with pytest.raises(KeyFileError, match=f"every key must be {KEY_BYTES} bytes"):
            load_keyring(path)


def test_a_key_file_whose_active_key_is_missing_is_refused(tmp_path: Path) -> None:
    document = _document(new_keyring())
    document["active"] = 7
    path = tmp_path / "keys.json"
    _write(path, document)
    with pytest.raises(KeyFileError, match="the active key 7 is not in the file"):
        load_keyring(path)


def test_a_key_file_without_data_keys_is_refused(tmp_path: Path) -> None:
    document = _document(new_keyring())
    document["data_keys"] = {}
    path = tmp_path / "keys.json"
    _write(path, document)
    with pytest.raises(KeyFileError, match="active key 1 is not in the file"):
        load_keyring(path)


@pytest.mark.parametrize("number", [-1, 2**32])
def test_a_key_number_that_a_ciphertext_cannot_carry_is_refused(number: int) -> None:
    document = _document(new_keyring())
    document["data_keys"] = {str(number): document["data_keys"]["1"]}
    document["active"] = number
    with pytest.raises(KeyFileError):
        parse_keyring(json.dumps(document))


def test_parsing_names_the_origin_in_the_message() -> None:
    with pytest.raises(KeyFileError, match=r"^backup copy is not a valid Haven key file"):
        parse_keyring("{}", origin="backup copy")


def test_a_new_data_key_becomes_active_and_the_old_one_is_kept() -> None:
    keyring = new_keyring()
    rotated = keyring.with_new_data_key()
    assert rotated.active == 2
    assert set(rotated.data_keys) == {1, 2}
    assert rotated.data_keys[1] == keyring.data_keys[1]
    assert rotated.active_key == rotated.data_keys[2]
    assert rotated.active_key != keyring.active_key
    assert len(rotated.active_key) == KEY_BYTES


def test_a_new_data_key_keeps_the_index_key_and_the_fingerprint() -> None:
    keyring = new_keyring()
    rotated = keyring.with_new_data_key()
    assert rotated.index_key == keyring.index_key
    assert rotated.fingerprint == keyring.fingerprint
    assert rotated.created == keyring.created
    assert rotated.derived_key("blind index") == keyring.derived_key("blind index")


def test_rotating_leaves_the_original_keyring_unchanged() -> None:
    keyring = new_keyring()
    keyring.with_new_data_key()
    assert keyring.active == 1
    assert set(keyring.data_keys) == {1}


def test_a_new_data_key_is_numbered_after_the_highest_one() -> None:
    keyring = new_keyring().with_new_data_key().with_new_data_key()
    assert keyring.active == 3
    retired = keyring.without_data_keys({2})
    assert retired.with_new_data_key().active == 4


def test_retiring_data_keys_drops_only_those_keys() -> None:
    keyring = new_keyring().with_new_data_key().with_new_data_key()
    retired = keyring.without_data_keys({1, 2})
    assert set(retired.data_keys) == {3}
    assert retired.active == 3
    assert retired.active_key == keyring.active_key
    assert retired.index_key == keyring.index_key


def test_the_active_data_key_cannot_be_retired() -> None:
    keyring = new_keyring().with_new_data_key()
    with pytest.raises(KeyFileError, match="active data key cannot be retired"):
        keyring.without_data_keys({1, 2})
    with pytest.raises(KeyFileError):
        keyring.without_data_keys({2})


def test_derived_keys_differ_by_purpose_and_are_not_the_index_key() -> None:
    keyring = new_keyring()
    blind = keyring.derived_key("blind index")
    audit = keyring.derived_key("audit digest")
    assert blind != audit
    assert keyring.index_key not in (blind, audit)
    assert len(blind) == 32


def test_the_fingerprint_reveals_no_key() -> None:
    keyring = new_keyring()
    assert len(keyring.fingerprint) == 32
    int(keyring.fingerprint, 16)
    for key in (keyring.index_key, keyring.active_key):
        assert keyring.fingerprint not in (key.hex(), base64.b64encode(key).decode())
        assert key.hex()[:32] != keyring.fingerprint


def test_the_key_file_holds_keys_in_base64_and_numbers_as_strings() -> None:
    keyring = new_keyring().with_new_data_key()
    document = _document(keyring)
    assert document["format"] == "haven-keyring"
    assert document["version"] == 1
    assert document["active"] == 2
    assert sorted(document["data_keys"]) == ["1", "2"]
    assert base64.b64decode(document["index_key"]) == keyring.index_key
