"""The versioned taxonomy: internal consistency, the sources it cites, and the MISP vocabularies it
maps to (copies of the MISP taxonomies are in tests/fixtures)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from haven.domain.enums import Tlp
from haven.domain.taxonomy import Taxonomy, Vocabulary, load_taxonomy
from haven.errors import ValidationFailed

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

PACE_METHODS = {
    "direct-attack",
    "co-opting-other-countries",
    "mobility-controls",
    "threats-from-a-distance",
}

FREEDOM_HOUSE_CATEGORIES = {
    "assassination",
    "assault",
    "detention",
    "rendition",
    "unlawful-deportation",
}

# Tactics named by the European Parliament resolution of 13 November 2025.
EUROPEAN_PARLIAMENT_TACTICS = [
    "targeted-killing",
    "abduction",
    "enforced-disappearance",
    "physical-assault",
    "harassment",
    "forced-return",
    "expulsion",
    "consular-misuse",
    "extradition-misuse",
    "arrest-misuse",
    "interpol-abuse",
    "false-accusation",
    "legal-pressure",
    "surveillance",
    "intimidation",
    "blackmail",
    "coercion-by-proxy",
    "spyware",
    "hacking",
    "doxing",
    "malicious-communications",
    "ai-manipulation",
]

TLP_2_0 = {"clear", "green", "amber", "amber+strict", "red"}

VOCABULARY_NAMES = [
    "methods",
    "freedom_house",
    "target_profiles",
    "state_responsibility",
    "tlp",
    "pap",
    "source_reliability",
    "information_credibility",
]


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return load_taxonomy()


@pytest.fixture(scope="module")
def raw_taxonomy() -> dict[str, Any]:
    text = (
        resources.files("haven.domain")
        .joinpath("data/taxonomy-v1.json")
        .read_text(encoding="utf-8")
    )
    document: dict[str, Any] = json.loads(text)
    return document


def _misp(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return document


def _misp_predicates(name: str) -> list[str]:
    return [predicate["value"] for predicate in _misp(name)["predicates"]]


def _misp_values(name: str, predicate: str) -> list[str]:
    for values in _misp(name)["values"]:
        if values["predicate"] == predicate:
            return [entry["value"] for entry in values["entry"]]
    raise AssertionError(f"{name} has no values for predicate {predicate!r}")


def _codes_in_order(vocabulary: Vocabulary) -> list[str]:
    return [term.code for term in vocabulary.terms]


# --- internal consistency ------------------------------------------------------------------------


def test_the_current_taxonomy_is_version_1(
    taxonomy: Taxonomy, raw_taxonomy: dict[str, Any]
) -> None:
    assert taxonomy.version == 1
    assert raw_taxonomy["format"] == "haven-taxonomy"
    assert raw_taxonomy["version"] == 1


def test_tactic_codes_are_unique(taxonomy: Taxonomy) -> None:
    codes = [tactic.code for tactic in taxonomy.tactics]
    assert len(codes) == len(set(codes))
    assert taxonomy.tactic_codes == set(codes)


@pytest.mark.parametrize("name", VOCABULARY_NAMES)
def test_codes_are_unique_in_every_vocabulary(taxonomy: Taxonomy, name: str) -> None:
    vocabulary: Vocabulary = getattr(taxonomy, name)
    codes = _codes_in_order(vocabulary)
    assert codes, f"vocabulary {name} is empty"
    assert len(codes) == len(set(codes))
    assert vocabulary.codes == set(codes)


@pytest.mark.parametrize("name", ["tactics", *VOCABULARY_NAMES])
def test_codes_are_unique_in_the_data_file(raw_taxonomy: dict[str, Any], name: str) -> None:
    codes = [entry["code"] for entry in raw_taxonomy[name]]
    assert len(codes) == len(set(codes))


def test_every_tactic_has_a_label_and_a_plain_description(taxonomy: Taxonomy) -> None:
    for tactic in taxonomy.tactics:
        assert tactic.label.strip(), tactic.code
        assert tactic.plain.strip(), tactic.code


def test_the_method_vocabulary_is_the_four_pace_methods(taxonomy: Taxonomy) -> None:
    assert taxonomy.methods.codes == PACE_METHODS


def test_every_tactic_belongs_to_a_pace_method(taxonomy: Taxonomy) -> None:
    for tactic in taxonomy.tactics:
        assert tactic.method in PACE_METHODS, tactic.code


def test_every_pace_method_has_at_least_one_tactic(taxonomy: Taxonomy) -> None:
    used = {tactic.method for tactic in taxonomy.tactics}
    assert used == PACE_METHODS


def test_the_freedom_house_vocabulary_is_the_five_categories(taxonomy: Taxonomy) -> None:
    assert taxonomy.freedom_house.codes == FREEDOM_HOUSE_CATEGORIES


def test_every_freedom_house_mapping_names_a_known_category(taxonomy: Taxonomy) -> None:
    for tactic in taxonomy.tactics:
        if tactic.freedom_house is not None:
            assert tactic.freedom_house in FREEDOM_HOUSE_CATEGORIES, tactic.code


def test_every_freedom_house_category_is_mapped_from_some_tactic(taxonomy: Taxonomy) -> None:
    mapped = {t.freedom_house for t in taxonomy.tactics if t.freedom_house is not None}
    assert mapped == FREEDOM_HOUSE_CATEGORIES


def test_tactics_that_are_not_physical_incidents_have_no_freedom_house_category(
    taxonomy: Taxonomy,
) -> None:
    # Freedom House counts direct, physical incidents only; online threats are out of its scope.
    for tactic in taxonomy.tactics_of_method("threats-from-a-distance"):
        assert tactic.freedom_house is None, tactic.code


@pytest.mark.parametrize("code", EUROPEAN_PARLIAMENT_TACTICS)
def test_a_tactic_named_by_the_european_parliament_is_present(
    taxonomy: Taxonomy, code: str
) -> None:
    assert code in taxonomy.tactic_codes
    assert taxonomy.tactic(code).code == code


def test_the_tlp_vocabulary_equals_the_tlp_enum(taxonomy: Taxonomy) -> None:
    assert taxonomy.tlp.codes == {member.value for member in Tlp}
    assert _codes_in_order(taxonomy.tlp) == [member.value for member in Tlp]


def test_tlp_and_pap_labels_spell_out_the_code(taxonomy: Taxonomy) -> None:
    for term in taxonomy.tlp.terms:
        assert term.label == f"TLP:{term.code.upper()}"
    for term in taxonomy.pap.terms:
        assert term.label == f"PAP:{term.code.upper()}"


# --- agreement with the MISP taxonomies ----------------------------------------------------------


def test_the_tlp_vocabulary_is_tlp_2_0(taxonomy: Taxonomy) -> None:
    assert taxonomy.tlp.codes == TLP_2_0


def test_every_tlp_code_is_a_misp_tlp_predicate(taxonomy: Taxonomy) -> None:
    misp = set(_misp_predicates("tlp.json"))
    assert misp >= TLP_2_0, "the fixture lacks TLP 2.0 predicates"
    assert taxonomy.tlp.codes <= misp


def test_every_pap_code_is_a_misp_pap_predicate_in_upper_case(taxonomy: Taxonomy) -> None:
    misp = set(_misp_predicates("PAP.json"))
    assert {code.upper() for code in taxonomy.pap.codes} <= misp


def test_pap_covers_every_misp_pap_level_except_the_retired_white(taxonomy: Taxonomy) -> None:
    # PAP:WHITE is the name PAP:CLEAR replaced; Haven records only the current one.
    misp = set(_misp_predicates("PAP.json"))
    assert {code.upper() for code in taxonomy.pap.codes} == misp - {"WHITE"}


def test_source_reliability_equals_the_misp_admiralty_scale(taxonomy: Taxonomy) -> None:
    misp = _misp_values("admiralty-scale.json", "source-reliability")
    assert _codes_in_order(taxonomy.source_reliability) == misp


def test_information_credibility_equals_the_misp_admiralty_scale(taxonomy: Taxonomy) -> None:
    misp = _misp_values("admiralty-scale.json", "information-credibility")
    assert _codes_in_order(taxonomy.information_credibility) == misp


def test_state_responsibility_maps_exactly_onto_the_misp_predicates(
    raw_taxonomy: dict[str, Any],
) -> None:
    misp = _misp_predicates("state-responsibility.json")
    mapped = [entry["misp"] for entry in raw_taxonomy["state_responsibility"]]
    assert mapped == misp


def test_state_responsibility_codes_are_the_misp_predicates_without_trailing_dots(
    raw_taxonomy: dict[str, Any], taxonomy: Taxonomy
) -> None:
    for entry in raw_taxonomy["state_responsibility"]:
        assert entry["code"] == entry["misp"].rstrip("."), entry["code"]
    assert _codes_in_order(taxonomy.state_responsibility) == [
        entry["code"] for entry in raw_taxonomy["state_responsibility"]
    ]


# --- lookups and refusals ------------------------------------------------------------------------


def test_a_known_tactic_is_returned_with_its_method_and_category(taxonomy: Taxonomy) -> None:
    tactic = taxonomy.tactic("targeted-killing")
    assert tactic.method == "direct-attack"
    assert tactic.freedom_house == "assassination"


def test_an_unknown_tactic_is_refused_with_the_known_codes_as_hint(taxonomy: Taxonomy) -> None:
    with pytest.raises(ValidationFailed) as caught:
        taxonomy.tactic("nope")
    assert "'nope'" in caught.value.message
    assert caught.value.hint is not None
    for code in ("targeted-killing", "doxing", "ai-manipulation"):
        assert code in caught.value.hint
    assert caught.value.status == 422


def test_a_vocabulary_returns_a_known_code_unchanged(taxonomy: Taxonomy) -> None:
    assert taxonomy.tlp.check("amber+strict") == "amber+strict"
    assert taxonomy.pap.check("red") == "red"


@pytest.mark.parametrize("name", VOCABULARY_NAMES)
def test_a_vocabulary_refuses_an_unknown_code_and_lists_its_codes(
    taxonomy: Taxonomy, name: str
) -> None:
    vocabulary: Vocabulary = getattr(taxonomy, name)
    with pytest.raises(ValidationFailed) as caught:
        vocabulary.check("no-such-code")
    assert "'no-such-code'" in caught.value.message
    assert vocabulary.name in caught.value.message
    assert caught.value.hint is not None
    for code in vocabulary.codes:
        assert code in caught.value.hint


def test_a_vocabulary_check_is_case_sensitive(taxonomy: Taxonomy) -> None:
    with pytest.raises(ValidationFailed):
        taxonomy.tlp.check("RED")


def test_tactics_of_a_method_are_exactly_those_with_that_method(taxonomy: Taxonomy) -> None:
    mobility = taxonomy.tactics_of_method("mobility-controls")
    assert {t.code for t in mobility} == {"consular-misuse", "passport-cancellation"}
    for method in PACE_METHODS:
        expected = tuple(t for t in taxonomy.tactics if t.method == method)
        assert taxonomy.tactics_of_method(method) == expected


def test_tactics_of_the_methods_partition_all_tactics(taxonomy: Taxonomy) -> None:
    combined = [t for method in PACE_METHODS for t in taxonomy.tactics_of_method(method)]
    assert sorted(t.code for t in combined) == sorted(taxonomy.tactic_codes)


def test_tactics_of_an_unknown_method_is_refused(taxonomy: Taxonomy) -> None:
    with pytest.raises(ValidationFailed) as caught:
        taxonomy.tactics_of_method("telepathy")
    assert "'telepathy'" in caught.value.message
    assert caught.value.hint is not None
    assert "direct-attack" in caught.value.hint
