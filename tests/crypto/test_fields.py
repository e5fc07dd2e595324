from __future__ import annotations

import hashlib
import json
import re
import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from haven.crypto.fields import CIPHERTEXT_VERSION, FieldCipher, normalise, normalise_contact
from haven.crypto.keys import Keyring, new_keyring
from haven.errors import KeyFileError

CONTEXT = "people.identity:0b5c7d3e-0000-4000-8000-000000000001"
HEADER_BYTES = 5  # version (1) + data key number (4)
NONCE_BYTES = 12
TAG_BYTES = 16

# Hypothesis runs a test many times within one call of its fixtures, so the property tests use a
# module-level keyring instead of the function-scoped fixture.
_PROPERTY_KEYRING = new_keyring()


@pytest.fixture
def keyring() -> Keyring:
    return new_keyring()


@pytest.fixture
def cipher(keyring: Keyring) -> FieldCipher:
    return FieldCipher(keyring)


# --- encryption ----------------------------------------------------------------------------------


def test_a_value_decrypts_to_what_was_encrypted(cipher: FieldCipher) -> None:
    plaintext = "Ayşe Özdemir, +90 555 000 00 00".encode()
    assert cipher.decrypt(cipher.encrypt(plaintext, CONTEXT), CONTEXT) == plaintext


def test_an_empty_value_round_trips(cipher: FieldCipher) -> None:
    assert cipher.decrypt(cipher.encrypt(b"", CONTEXT), CONTEXT) == b""


def test_a_ciphertext_does_not_contain_the_plaintext(cipher: FieldCipher) -> None:
    plaintext = b"Ayse Ozdemir lives at Hauptstrasse 12"
    ciphertext = cipher.encrypt(plaintext, CONTEXT)
    assert plaintext not in ciphertext
    assert b"Ozdemir" not in ciphertext
    assert b"Hauptstrasse" not in ciphertext


def test_a_ciphertext_has_the_documented_layout(cipher: FieldCipher) -> None:
    plaintext = b"twelve bytes"
    ciphertext = cipher.encrypt(plaintext, CONTEXT)
    assert len(ciphertext) == HEADER_BYTES + NONCE_BYTES + len(plaintext) + TAG_BYTES
    assert ciphertext[0] == CIPHERTEXT_VERSION
    assert int.from_bytes(ciphertext[1:HEADER_BYTES], "big") == 1
    assert FieldCipher.key_number(ciphertext) == (CIPHERTEXT_VERSION, 1)


def test_encrypting_the_same_value_twice_gives_different_ciphertexts(cipher: FieldCipher) -> None:
    first = cipher.encrypt(b"same", CONTEXT)
    second = cipher.encrypt(b"same", CONTEXT)
    assert first != second
    assert (
        first[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES]
        != (second[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES])
    )


def test_a_ciphertext_moved_to_another_record_does_not_decrypt(cipher: FieldCipher) -> None:
    ciphertext = cipher.encrypt(b"secret", "people.identity:record-1")
    with pytest.raises(KeyFileError) as caught:
        cipher.decrypt(ciphertext, "people.identity:record-2")
    assert "people.identity" in caught.value.message
    assert "record" not in caught.value.message  # messages name no record content or id
    assert caught.value.hint is not None


def test_a_ciphertext_moved_to_another_column_does_not_decrypt(cipher: FieldCipher) -> None:
    ciphertext = cipher.encrypt(b"secret", "people.identity:record-1")
    with pytest.raises(KeyFileError):
        cipher.decrypt(ciphertext, "evidence.filename:record-1")


def test_a_ciphertext_does_not_decrypt_under_another_keyring(cipher: FieldCipher) -> None:
    ciphertext = cipher.encrypt(b"secret", CONTEXT)
    stranger = FieldCipher(new_keyring())  # also numbers its only data key 1
    with pytest.raises(KeyFileError, match="does not decrypt with data key 1"):
        stranger.decrypt(ciphertext, CONTEXT)


def test_every_flipped_byte_makes_a_ciphertext_fail_to_decrypt(cipher: FieldCipher) -> None:
    ciphertext = cipher.encrypt(b"a value worth protecting", CONTEXT)
    for position in range(len(ciphertext)):
        altered = bytearray(ciphertext)
        altered[position] ^= 0x01
        with pytest.raises(KeyFileError):
            cipher.decrypt(bytes(altered), CONTEXT)


def test_a_flipped_byte_in_the_sealed_part_is_reported_as_altered(cipher: FieldCipher) -> None:
    ciphertext = bytearray(cipher.encrypt(b"a value", CONTEXT))
    ciphertext[-1] ^= 0xFF
    with pytest.raises(KeyFileError) as caught:
        cipher.decrypt(bytes(ciphertext), CONTEXT)
    assert caught.value.hint is not None
    assert "altered" in caught.value.hint


def test_an_unknown_ciphertext_version_is_refused(cipher: FieldCipher) -> None:
    ciphertext = bytearray(cipher.encrypt(b"a value", CONTEXT))
    ciphertext[0] = 9
    with pytest.raises(KeyFileError, match="unknown ciphertext version 9"):
        cipher.decrypt(bytes(ciphertext), CONTEXT)


@pytest.mark.parametrize("length", [0, 4, 5, 12])
def test_a_truncated_ciphertext_is_refused_as_a_key_file_error(
    cipher: FieldCipher, length: int
) -> None:
    ciphertext = cipher.encrypt(b"a value", CONTEXT)
    with pytest.raises(KeyFileError):
        cipher.decrypt(ciphertext[:length], CONTEXT)


def test_a_keyring_without_the_needed_data_key_names_the_key_number(keyring: Keyring) -> None:
    rotated = keyring.with_new_data_key()
    ciphertext = FieldCipher(keyring).encrypt(b"old value", CONTEXT)
    retired = FieldCipher(rotated.without_data_keys({1}))
    with pytest.raises(KeyFileError, match="data key 1") as caught:
        retired.decrypt(ciphertext, CONTEXT)
    assert caught.value.hint is not None


def test_a_ciphertext_under_a_newer_key_needs_that_key(keyring: Keyring) -> None:
    rotated = keyring.with_new_data_key()
    ciphertext = FieldCipher(rotated).encrypt(b"new value", CONTEXT)
    with pytest.raises(KeyFileError, match="data key 2"):
        FieldCipher(keyring).decrypt(ciphertext, CONTEXT)


def test_a_json_document_round_trips_without_showing_its_text(cipher: FieldCipher) -> None:
    value = {"name": "Ayşe Özdemir", "aliases": ["Мария Иванова", "محمد"], "age": 41}
    ciphertext = cipher.encrypt(json.dumps(value, ensure_ascii=False).encode(), CONTEXT)
    assert "Özdemir".encode() not in ciphertext
    assert json.loads(cipher.decrypt(ciphertext, CONTEXT)) == value


@given(plaintext=st.text(), context=st.text())
def test_any_text_in_any_context_decrypts_to_itself(plaintext: str, context: str) -> None:
    cipher = FieldCipher(_PROPERTY_KEYRING)
    data = plaintext.encode()
    assert cipher.decrypt(cipher.encrypt(data, context), context) == data


@given(plaintext=st.binary(), context=st.text(), other=st.text())
def test_any_ciphertext_decrypts_only_in_its_own_context(
    plaintext: bytes, context: str, other: str
) -> None:
    cipher = FieldCipher(_PROPERTY_KEYRING)
    ciphertext = cipher.encrypt(plaintext, context)
    if other == context:
        assert cipher.decrypt(ciphertext, other) == plaintext
    else:
        with pytest.raises(KeyFileError):
            cipher.decrypt(ciphertext, other)


# --- rotation ------------------------------------------------------------------------------------


def test_old_ciphertexts_still_decrypt_after_rotation(keyring: Keyring) -> None:
    old = FieldCipher(keyring).encrypt(b"before rotation", CONTEXT)
    rotated = FieldCipher(keyring.with_new_data_key())
    assert rotated.decrypt(old, CONTEXT) == b"before rotation"


def test_new_ciphertexts_use_the_new_key_after_rotation(keyring: Keyring) -> None:
    rotated = FieldCipher(keyring.with_new_data_key())
    assert FieldCipher.key_number(rotated.encrypt(b"x", CONTEXT)) == (CIPHERTEXT_VERSION, 2)


def test_reencrypting_moves_an_old_ciphertext_to_the_active_key(keyring: Keyring) -> None:
    old = FieldCipher(keyring).encrypt(b"before rotation", CONTEXT)
    rotated = FieldCipher(keyring.with_new_data_key())
    fresh = rotated.reencrypt(old, CONTEXT)
    assert fresh is not None
    assert fresh != old
    assert FieldCipher.key_number(old) == (CIPHERTEXT_VERSION, 1)
    assert FieldCipher.key_number(fresh) == (CIPHERTEXT_VERSION, 2)
    assert rotated.decrypt(fresh, CONTEXT) == b"before rotation"


def test_a_reencrypted_ciphertext_survives_retiring_the_old_key(keyring: Keyring) -> None:
    old = FieldCipher(keyring).encrypt(b"before rotation", CONTEXT)
    rotated_ring = keyring.with_new_data_key()
    fresh = FieldCipher(rotated_ring).reencrypt(old, CONTEXT)
    assert fresh is not None
    retired = FieldCipher(rotated_ring.without_data_keys({1}))
    assert retired.decrypt(fresh, CONTEXT) == b"before rotation"
    with pytest.raises(KeyFileError):
        retired.decrypt(old, CONTEXT)


def test_reencrypting_a_ciphertext_already_under_the_active_key_returns_none(
    keyring: Keyring,
) -> None:
    rotated = FieldCipher(keyring.with_new_data_key())
    current = rotated.encrypt(b"after rotation", CONTEXT)
    assert rotated.reencrypt(current, CONTEXT) is None
    assert FieldCipher(keyring).reencrypt(FieldCipher(keyring).encrypt(b"x", CONTEXT), CONTEXT) is (
        None
    )


def test_reencrypting_checks_the_context(keyring: Keyring) -> None:
    old = FieldCipher(keyring).encrypt(b"before rotation", "people.identity:record-1")
    rotated = FieldCipher(keyring.with_new_data_key())
    with pytest.raises(KeyFileError):
        rotated.reencrypt(old, "people.identity:record-2")


# --- normalisation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("AYŞE  Özdemir", "ayse ozdemir"),
        ("  Ayşe\tÖzdemir\n", "ayse ozdemir"),
        ("O'Brien-Smith", "o brien smith"),
        ("José María", "jose maria"),
        ("STRASSE", "strasse"),
        ("Straße", "strasse"),
        ("ﬁnance", "finance"),  # compatibility ligature
        ("\uff34\uff4f\uff4b\uff59\uff4f", "tokyo"),  # full-width letters
        ("+90 (555) 000-00-00", "90 555 000 00 00"),
        ("", ""),
        ("!!! ...", ""),
    ],
)
def test_normalise_folds_case_accents_punctuation_and_whitespace(value: str, expected: str) -> None:
    assert normalise(value) == expected


def test_the_documented_example_matches() -> None:
    assert normalise("AYŞE  Özdemir") == normalise("ayse ozdemir")


def test_arabic_text_keeps_its_letters() -> None:
    assert normalise("محمد  علي") == "محمد علي"


def test_optional_arabic_and_hebrew_vowel_marks_fold() -> None:
    assert normalise("مُحَمَّد") == normalise("محمد") == "محمد"
    assert normalise("שָׁלוֹם") == normalise("שלום")


def test_cyrillic_text_keeps_its_letters() -> None:
    assert normalise("Мария  ИВАНОВА") == "мария иванова"


def test_chinese_text_keeps_its_characters() -> None:
    assert normalise("王 伟") == "王 伟"


@pytest.mark.parametrize(
    ("marked", "bare"),
    [
        ("किरण", "करण"),  # Devanagari vowel sign i
        ("がとう", "かとう"),  # Japanese dakuten: ga, not ka
        ("ガトウ", "カトウ"),  # the same in katakana
        ("សុខ", "សខ"),  # Khmer vowel sign u
    ],
)
def test_marks_that_make_a_different_syllable_keep_names_apart(marked: str, bare: str) -> None:
    assert normalise(marked) != normalise(bare)


def test_a_kept_mark_survives_composed_and_decomposed_input() -> None:
    composed = "\u304c"  # が as one code point
    decomposed = "\u304b\u3099"  # か + combining dakuten
    assert normalise(composed) == normalise(decomposed) == decomposed


@pytest.mark.parametrize(
    ("accented", "plain"),
    [
        ("Nguyễn", "nguyen"),  # two stacked marks on one letter
        ("Trần Thị Hồng", "tran thi hong"),
        ("Ελένη Παπαδοπούλου", "ελενη παπαδοπουλου"),
        ("Йордан", "иордан"),
        ("Łukasz Żółć", "łukasz zołc"),
    ],
)
def test_accents_on_latin_greek_and_cyrillic_letters_fold(accented: str, plain: str) -> None:
    assert normalise(accented) == normalise(plain)


def test_a_mark_with_no_letter_before_it_is_dropped() -> None:
    assert normalise("\u0301a") == "a"
    assert normalise("क -\u093f") == "क"
    assert normalise("a \u2260 b") == "a b"  # "≠" is "=" with an overlay mark


@pytest.mark.parametrize(
    ("value", "plain"), [("№ 7", "no 7"), ("Acme™", "acmetm"), ("\u210d", "h")]
)
def test_compatibility_characters_are_case_folded_too(value: str, plain: str) -> None:
    assert normalise(value) == normalise(plain)


@example("№")
@given(st.text())
def test_normalise_is_idempotent(value: str) -> None:
    once = normalise(value)
    assert normalise(once) == once


@given(st.text())
def test_normalised_text_is_letters_and_digits_separated_by_single_spaces(value: str) -> None:
    result = normalise(value)
    assert result == result.strip()
    assert "  " not in result
    base = ""
    for char in result:
        category = unicodedata.category(char)
        if category[0] == "M":
            # A mark is kept only on a letter or digit outside Latin, Greek and Cyrillic.
            assert base
            assert unicodedata.category(base)[0] in "LN"
            assert not unicodedata.name(base).startswith(("LATIN", "GREEK", "CYRILLIC"))
        else:
            assert char == " " or category[0] in "LN"
            base = char


# --- blind indexes and digests -------------------------------------------------------------------


def test_a_blind_index_is_64_hex_characters(cipher: FieldCipher) -> None:
    index = cipher.blind_index("name", "Ayşe Özdemir")
    assert re.fullmatch("[0-9a-f]{64}", index)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("AYŞE  Özdemir", "ayse ozdemir"),
        ("O'Brien", "o brien"),
        ("Мария Иванова", "МАРИЯ  иванова"),
    ],
)
def test_values_equal_after_normalisation_have_equal_blind_indexes(
    cipher: FieldCipher, first: str, second: str
) -> None:
    assert cipher.blind_index("name", first) == cipher.blind_index("name", second)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("+49 151 2345-6789", "+4915123456789"),
        ("+49 (0)151 / 2345.6789", "+49 0151 23456789"),
        ("  0151 2345 6789 ", "015123456789"),
        ("+90\u00a0555\u00a0000\u00a000\u00a000", "+905550000000"),  # no-break spaces
        ("+\u0669\u0660 \u0665\u0665\u0665 \u0660\u0660\u0660", "+90555000"),  # Arabic-Indic
        ("Ayse.Ozdemir@Example.org", "ayse ozdemir example org"),
    ],
)
def test_contacts_written_differently_have_equal_blind_indexes(
    cipher: FieldCipher, first: str, second: str
) -> None:
    assert cipher.blind_index("contact", first) == cipher.blind_index("contact", second)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("+49 151 2345 6789", "49 151 2345 6789"),  # an international number is not a local one
        ("+49 151 2345 6789", "+49 151 2345 6780"),
        ("ayse@example.org", "ayse@example.com"),
    ],
)
def test_different_contacts_have_different_blind_indexes(
    cipher: FieldCipher, first: str, second: str
) -> None:
    assert cipher.blind_index("contact", first) != cipher.blind_index("contact", second)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("+49 151 2345-6789", "+4915123456789"),
        ("(030) 123 456", "030123456"),
        ("030/12.34.56", "030123456"),
        ("12-34-5", "12 34 5"),  # too few digits for a telephone number
        ("+49 151 2345 6789 ext", "49 151 2345 6789 ext"),  # letters: not a telephone number
        ("49+151 2345", "49 151 2345"),  # a "+" that does not lead
        ("Ayse.Ozdemir@Example.org", "ayse ozdemir example org"),
    ],
)
def test_a_contact_is_compared_by_its_digits_only_when_it_is_a_telephone_number(
    value: str, expected: str
) -> None:
    assert normalise_contact(value) == expected


def test_only_contacts_are_compared_as_telephone_numbers(cipher: FieldCipher) -> None:
    assert cipher.blind_index("document", "12 34 56 78") != cipher.blind_index(
        "document", "12345678"
    )


def test_different_values_have_different_blind_indexes(cipher: FieldCipher) -> None:
    assert cipher.blind_index("name", "Ayse Ozdemir") != cipher.blind_index("name", "Ayse Ozdemil")


def test_the_same_value_of_a_different_kind_has_a_different_blind_index(
    cipher: FieldCipher,
) -> None:
    assert cipher.blind_index("name", "ayse") != cipher.blind_index("contact", "ayse")


def test_a_blind_index_depends_on_the_keyring(cipher: FieldCipher) -> None:
    other = FieldCipher(new_keyring())
    assert cipher.blind_index("name", "ayse") != other.blind_index("name", "ayse")


def test_a_blind_index_survives_data_key_rotation(keyring: Keyring) -> None:
    before = FieldCipher(keyring).blind_index("name", "Ayşe Özdemir")
    after = FieldCipher(keyring.with_new_data_key()).blind_index("name", "Ayşe Özdemir")
    assert before == after


def test_a_blind_index_is_not_a_plain_hash_of_the_value(cipher: FieldCipher) -> None:
    index = cipher.blind_index("name", "ayse")
    assert index != hashlib.sha256(b"ayse").hexdigest()
    assert index != hashlib.sha256(b"name\x1fayse").hexdigest()


def test_a_digest_is_keyed(cipher: FieldCipher) -> None:
    other = FieldCipher(new_keyring())
    assert cipher.digest(b"payload") != other.digest(b"payload")


def test_a_digest_is_stable_for_one_keyring_and_across_rotation(keyring: Keyring) -> None:
    first = FieldCipher(keyring).digest(b"payload")
    assert FieldCipher(keyring).digest(b"payload") == first
    assert FieldCipher(keyring.with_new_data_key()).digest(b"payload") == first
    assert re.fullmatch("[0-9a-f]{64}", first)


def test_a_digest_depends_on_the_payload(cipher: FieldCipher) -> None:
    assert cipher.digest(b"payload") != cipher.digest(b"payload.")


def test_a_digest_and_a_blind_index_use_different_keys(cipher: FieldCipher) -> None:
    # The same bytes must not give the same value under both, or one could stand in for the other.
    message = b"name\x1fayse"
    assert cipher.digest(message) != cipher.blind_index("name", "ayse")
