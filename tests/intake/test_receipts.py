"""Receipt codes: their shape, the forgiving reading back, and the stored hash."""

from __future__ import annotations

import re

import pytest

from haven.intake.receipts import ALPHABET, canonical, new_receipt_code, receipt_hash

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
SHAPE = re.compile(r"[0-9A-HJKMNP-TV-Z]{5}(-[0-9A-HJKMNP-TV-Z]{5}){3}")
CODE = "7K3QD-M2XW9-TB4HN-P0A8R"


def test_the_alphabet_is_crockford_base32() -> None:
    assert ALPHABET == CROCKFORD
    assert not set("ILOU") & set(ALPHABET)


def test_a_new_code_is_20_crockford_characters_in_four_groups_of_five() -> None:
    for _ in range(50):
        code = new_receipt_code()
        assert SHAPE.fullmatch(code), code
        groups = code.split("-")
        assert [len(group) for group in groups] == [5, 5, 5, 5]
        assert len("".join(groups)) == 20
        assert set("".join(groups)) <= set(CROCKFORD)
        assert canonical(code) == code


def test_many_generated_codes_are_distinct_and_use_the_whole_alphabet() -> None:
    codes = [new_receipt_code() for _ in range(5000)]
    assert len(set(codes)) == len(codes)
    # 100,000 characters drawn: every one of the 32 symbols shows up, in every position.
    assert set("".join(codes).replace("-", "")) == set(CROCKFORD)
    for position in range(23):
        if position % 6 == 5:
            continue
        assert len({code[position] for code in codes}) == 32, position


@pytest.mark.parametrize(
    "typed",
    [
        pytest.param(CODE, id="as-shown"),
        pytest.param(CODE.lower(), id="lower-case"),
        pytest.param("7k3qd m2xw9 tb4hn p0a8r", id="spaces"),
        pytest.param("  7K3QDM2XW9TB4HNP0A8R \n", id="no-separators-and-whitespace"),
        pytest.param("7K3-QDM-2XW-9TB-4HN-P0A-8R", id="dashes-elsewhere"),
        pytest.param("7K3QD-M2XW9-TB4HN-PoA8R", id="letter-o-for-zero"),
        pytest.param("7K3QD-M2XW9-TB4HN-POA8R", id="capital-o-for-zero"),
        pytest.param("7K3QD--M2XW9 - TB4HN\tP0A8R", id="mixed-separators"),
    ],
)
def test_canonical_forgives_case_spaces_dashes_and_o(typed: str) -> None:
    assert canonical(typed) == CODE


def test_canonical_reads_i_and_l_as_one() -> None:
    assert canonical("IiLl1-BCDEF-GHJKM-NPQRS") == "11111-BCDEF-GHJKM-NPQRS"


@pytest.mark.parametrize(
    "typed",
    [
        pytest.param("", id="empty"),
        pytest.param("   - -  ", id="separators-only"),
        pytest.param(CODE[:-1], id="one-short"),
        pytest.param(CODE + "X", id="one-long"),
        pytest.param(CODE.replace("-", "") * 2, id="double"),
        pytest.param("7K3QD-M2XW9-TB4HN-P0A8U", id="letter-u"),
        pytest.param("7K3QD-M2XW9-TB4HN-P0A8!", id="punctuation"),
        pytest.param("7K3QD_M2XW9_TB4HN_P0A8R", id="underscores"),
        pytest.param("7K3QD-M2XW9-TB4HN-P0A8Ř", id="accented-letter"),
        pytest.param("7K3QD-M2XW9-TB4HN-P0A8٣", id="arabic-indic-digit"),
    ],
)
def test_canonical_refuses_what_cannot_be_a_code(typed: str) -> None:
    assert canonical(typed) is None
    assert receipt_hash(typed) is None


def test_the_hash_is_hex_sha256_the_same_for_every_spelling_and_differs_per_code() -> None:
    digest = receipt_hash(CODE)
    assert digest is not None
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert receipt_hash(CODE.lower().replace("-", " ")) == digest
    assert receipt_hash(CODE.replace("0", "o")) == digest
    # One character apart is a different code with an unrelated hash.
    assert receipt_hash("7K3QD-M2XW9-TB4HN-P0A8S") != digest
    assert CODE.replace("-", "") not in digest
    hashes = {receipt_hash(new_receipt_code()) for _ in range(500)}
    assert len(hashes) == 500
    assert None not in hashes
