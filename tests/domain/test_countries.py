from __future__ import annotations

import pycountry
import pytest

from haven.domain.countries import (
    EU_MEMBER_STATES,
    check_country,
    country_name,
    is_member_state,
)
from haven.errors import ValidationFailed

# Written out here rather than imported, so a change to the list in src has to be made twice.
EXPECTED_MEMBER_STATES = {
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE",
    "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
}  # fmt: skip


def test_the_member_states_are_exactly_the_27() -> None:
    assert len(EXPECTED_MEMBER_STATES) == 27
    assert set(EU_MEMBER_STATES) == EXPECTED_MEMBER_STATES


@pytest.mark.parametrize("code", ["GB", "CH", "NO", "TR"])
def test_european_countries_outside_the_union_are_not_member_states(code: str) -> None:
    assert code not in EU_MEMBER_STATES
    assert not is_member_state(code)


@pytest.mark.parametrize("code", sorted(EXPECTED_MEMBER_STATES))
def test_every_member_state_is_an_iso_alpha_2_code(code: str) -> None:
    assert pycountry.countries.get(alpha_2=code) is not None
    assert check_country(code) == code


@pytest.mark.parametrize("code", sorted(EXPECTED_MEMBER_STATES))
def test_every_member_state_is_recognised_as_one(code: str) -> None:
    assert is_member_state(code)


def test_greece_is_gr_not_the_eu_abbreviation_el() -> None:
    assert "GR" in EU_MEMBER_STATES
    assert "EL" not in EU_MEMBER_STATES


@pytest.mark.parametrize(("given", "expected"), [(" de ", "DE"), ("de", "DE"), ("Cn", "CN")])
def test_a_country_code_is_normalised_to_upper_case_without_spaces(
    given: str, expected: str
) -> None:
    assert check_country(given) == expected


@pytest.mark.parametrize("bad", ["XX", "Germany", "", "DEU", "276"])
def test_a_value_that_is_not_an_alpha_2_code_is_refused_with_a_hint(bad: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        check_country(bad)
    assert repr(bad) in caught.value.message
    assert caught.value.hint is not None
    assert "alpha-2" in caught.value.hint
    assert caught.value.status == 422


def test_membership_accepts_codes_in_any_case() -> None:
    assert is_member_state(" fr ")
    assert not is_member_state("cn")


def test_membership_of_an_unknown_code_is_refused() -> None:
    with pytest.raises(ValidationFailed):
        is_member_state("XX")


@pytest.mark.parametrize(
    ("code", "language", "expected"),
    [
        ("DE", "de", "Deutschland"),
        ("DE", "fr", "Allemagne"),
        ("DE", "en", "Germany"),
        ("CN", "zh_CN", "中国"),
        ("TR", "de", "Türkei"),
        ("IR", "en", "Iran"),
    ],
)
def test_a_country_is_named_in_the_readers_language(
    code: str, language: str, expected: str
) -> None:
    assert country_name(code, language) == expected


def test_the_default_language_is_english() -> None:
    assert country_name("DE") == "Germany"


def test_the_short_common_name_is_preferred_to_the_iso_name() -> None:
    # pycountry's ISO name is "Iran, Islamic Republic of"; the common name is "Iran".
    iran = pycountry.countries.get(alpha_2="IR")
    assert iran is not None
    assert iran.name != "Iran"
    assert country_name("IR") == "Iran"


@pytest.mark.parametrize("language", ["xx", "tlh", "no_such_locale"])
def test_an_unknown_language_falls_back_to_english(language: str) -> None:
    assert country_name("DE", language) == "Germany"
    assert country_name("IR", language) == "Iran"


def test_a_country_name_accepts_a_lower_case_code() -> None:
    assert country_name(" de ", "fr") == "Allemagne"


def test_a_country_name_for_an_unknown_code_is_refused() -> None:
    with pytest.raises(ValidationFailed):
        country_name("XX", "en")
