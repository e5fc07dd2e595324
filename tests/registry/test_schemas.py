from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from haven.domain.enums import DatePrecision, Tlp
from haven.errors import ValidationFailed
from haven.registry.schemas import (
    EvidenceIn,
    IncidentIn,
    InstrumentIn,
    OrganisationIn,
    PersonIn,
    parse,
)


def _incident(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "title": "Threatening calls to a journalist",
        "occurred": {"start": "2023-05-01"},
        "origin_state": "cn",
        "host_state": "de",
        "other_places": [{"country": "fr", "locality": "Paris"}],
        "tactics": ["harassment", "coercion-by-proxy"],
    }
    data.update(changes)
    return data


def _evidence(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "media_type": "image/jpeg",
        "size_bytes": 1024,
        "sha256": "ab" * 32,
        "acquired_at": datetime(2024, 3, 1, 12, 0, tzinfo=UTC),
        "acquisition_method": "interview",
        "acquired_by": "Exile Legal Aid",
    }
    data.update(changes)
    return data


def test_a_valid_incident_is_accepted_with_country_codes_upper_cased() -> None:
    incident = parse(IncidentIn, _incident())

    assert incident.origin_state == "CN"
    assert incident.host_state == "DE"
    assert incident.other_places[0].country == "FR"
    assert incident.other_places[0].locality == "Paris"
    assert incident.tactics == ("harassment", "coercion-by-proxy")
    assert incident.occurred.start == date(2023, 5, 1)
    assert incident.occurred.precision is DatePrecision.DAY
    assert incident.occurred.end is None
    assert incident.tlp is Tlp.AMBER


def test_a_date_range_with_an_end_is_accepted() -> None:
    incident = parse(
        IncidentIn,
        _incident(occurred={"start": "2023-05-01", "end": "2023-06-30", "precision": "range"}),
    )

    assert incident.occurred.end == date(2023, 6, 30)
    assert incident.occurred.precision is DatePrecision.RANGE


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        pytest.param({"origin_state": "XX"}, "origin_state", id="unknown-origin"),
        pytest.param({"host_state": "Germany"}, "host_state", id="unknown-host"),
        pytest.param(
            {"other_places": [{"country": "ZZ"}]}, "other_places.0.country", id="unknown-place"
        ),
        pytest.param({"tactics": ["mind-control"]}, "tactics.0", id="unknown-tactic"),
        pytest.param(
            {"tactics": ["harassment", "mind-control"]}, "tactics.1", id="second-tactic-unknown"
        ),
        pytest.param({"tactics": []}, "tactics", id="no-tactics"),
        pytest.param(
            {"occurred": {"start": "2023-05-01", "precision": "range"}},
            "occurred",
            id="range-without-end",
        ),
        pytest.param(
            {"occurred": {"start": "2023-05-01", "end": "2023-04-01", "precision": "range"}},
            "occurred",
            id="range-ending-before-start",
        ),
        pytest.param(
            {"occurred": {"start": "2023-05-01", "end": "2023-05-03"}},
            "occurred",
            id="end-on-day-precision",
        ),
        pytest.param({"tlp": "purple"}, "tlp", id="unknown-tlp"),
        pytest.param({"state_responsibility": "state-ish"}, "state_responsibility", id="resp"),
        pytest.param({"title": ""}, "title", id="empty-title"),
    ],
)
def test_an_invalid_incident_is_refused_naming_the_field(
    changes: dict[str, Any], path: str
) -> None:
    with pytest.raises(ValidationFailed) as raised:
        parse(IncidentIn, _incident(**changes))

    assert raised.value.message.startswith(f"{path}: ")


def test_an_unknown_origin_country_message_names_the_code() -> None:
    with pytest.raises(ValidationFailed, match=r"^origin_state: unknown country code 'XX'"):
        parse(IncidentIn, _incident(origin_state="XX"))


def test_an_unknown_tactic_message_names_the_code() -> None:
    with pytest.raises(ValidationFailed, match=r"^tactics\.0: unknown tactic 'mind-control'"):
        parse(IncidentIn, _incident(tactics=["mind-control"]))


def test_a_day_precision_date_with_an_end_is_refused_with_the_reason() -> None:
    with pytest.raises(ValidationFailed, match=r"^occurred: only a range has an end date"):
        parse(IncidentIn, _incident(occurred={"start": "2023-05-01", "end": "2023-05-03"}))


def test_a_range_without_end_is_refused_with_the_reason() -> None:
    with pytest.raises(ValidationFailed, match=r"^occurred: a date range needs an end"):
        parse(IncidentIn, _incident(occurred={"start": "2023-05-01", "precision": "range"}))


def test_a_duplicated_tactic_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="a tactic is listed twice"):
        parse(IncidentIn, _incident(tactics=["harassment", "harassment"]))


def test_a_tactic_repeated_with_surrounding_spaces_is_refused_as_a_duplicate() -> None:
    with pytest.raises(ValidationFailed, match="listed twice"):
        parse(IncidentIn, _incident(tactics=["harassment", " harassment "]))


def test_a_duplicated_tactic_message_names_the_tactics_field() -> None:
    with pytest.raises(ValidationFailed, match=r"^tactics(\.\d+)?: "):
        parse(IncidentIn, _incident(tactics=["harassment", "harassment"]))


@pytest.mark.parametrize(
    ("model", "data", "path"),
    [
        pytest.param(IncidentIn, _incident(victim_name="A. Person"), "victim_name", id="incident"),
        pytest.param(
            IncidentIn,
            _incident(occurred={"start": "2023-05-01", "hour": 3}),
            "occurred.hour",
            id="nested",
        ),
        pytest.param(PersonIn, {"passport": "X123"}, "passport", id="person"),
        pytest.param(
            PersonIn,
            {"identity": {"names": [{"value": "A"}], "nick": "B"}},
            "identity.nick",
            id="identity",
        ),
        pytest.param(EvidenceIn, _evidence(notes="n"), "notes", id="evidence"),
    ],
)
def test_extra_fields_are_refused(model: type[Any], data: dict[str, Any], path: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        parse(model, data)

    assert raised.value.message.startswith(f"{path}: Extra inputs are not permitted")


def test_valid_evidence_is_accepted() -> None:
    evidence = parse(EvidenceIn, _evidence())

    assert evidence.sha256 == "ab" * 32
    assert evidence.acquired_at.tzinfo is not None
    assert (evidence.source_reliability, evidence.information_credibility) == ("f", "6")


@pytest.mark.parametrize(
    "sha256",
    [
        pytest.param("g" * 64, id="non-hex"),
        pytest.param("ab" * 31 + "a", id="too-short"),
        pytest.param("ab" * 32 + "a", id="too-long"),
        pytest.param("not a digest", id="text"),
    ],
)
def test_evidence_refuses_a_sha256_that_is_not_64_hex_digits(sha256: str) -> None:
    with pytest.raises(ValidationFailed, match=r"^sha256: "):
        parse(EvidenceIn, _evidence(sha256=sha256))


def test_evidence_refuses_a_naive_acquisition_time() -> None:
    with pytest.raises(ValidationFailed, match=r"^acquired_at: "):
        parse(EvidenceIn, _evidence(acquired_at=datetime(2024, 3, 1, 12, 0)))


def test_evidence_refuses_an_unknown_source_reliability() -> None:
    with pytest.raises(ValidationFailed, match=r"^source_reliability: "):
        parse(EvidenceIn, _evidence(source_reliability="z"))


def test_a_person_with_a_known_profile_is_accepted() -> None:
    person = parse(
        PersonIn,
        {
            "profile": "journalist",
            "nationality": "tr",
            "identity": {"names": [{"value": "Ayşe Özdemir", "script": "Latn"}]},
        },
    )

    assert person.profile == "journalist"
    assert person.nationality == "TR"
    assert person.identity is not None
    assert person.identity.names[0].value == "Ayşe Özdemir"


def test_a_person_with_an_unknown_profile_is_refused() -> None:
    with pytest.raises(ValidationFailed, match=r"^profile: unknown target profile 'astronaut'"):
        parse(PersonIn, {"profile": "astronaut"})


def test_an_identity_without_names_is_refused() -> None:
    with pytest.raises(ValidationFailed, match=r"^identity\.names: "):
        parse(PersonIn, {"identity": {"names": []}})


def test_a_failure_with_several_errors_says_how_many_more() -> None:
    with pytest.raises(ValidationFailed, match=r"\(and 1 more\)$"):
        parse(IncidentIn, _incident(origin_state="XX", tlp="purple"))


def _identity(**changes: Any) -> dict[str, Any]:
    return {"identity": {"names": [{"value": "Ayşe Özdemir"}], **changes}}


@pytest.mark.parametrize(
    ("model", "data", "path"),
    [
        pytest.param(IncidentIn, _incident(title="a\x1fb"), "title", id="title"),
        pytest.param(IncidentIn, _incident(narrative="a\x00b"), "narrative", id="narrative"),
        pytest.param(
            IncidentIn,
            _incident(other_places=[{"country": "FR", "locality": "Paris\x1b[2J"}]),
            "other_places.0.locality",
            id="locality",
        ),
        pytest.param(
            PersonIn,
            {"identity": {"names": [{"value": "Ayşe\x1fÖzdemir"}]}},
            "identity.names.0.value",
            id="name",
        ),
        pytest.param(PersonIn, _identity(contact=["a@b.org\x07"]), "identity.contact.0"),
        pytest.param(PersonIn, _identity(address="1 Street\x1d"), "identity.address"),
        pytest.param(
            PersonIn,
            _identity(documents=[{"kind": "passport", "number": "P1\x1f2"}]),
            "identity.documents.0.number",
            id="document",
        ),
        pytest.param(
            OrganisationIn, {"name": "Agency\x7f", "kind": "proxy"}, "name", id="organisation"
        ),
        pytest.param(
            OrganisationIn,
            {"name": "Agency", "kind": "proxy", "aliases": ["A\x1fB"]},
            "aliases.0",
            id="alias",
        ),
        pytest.param(
            InstrumentIn,
            {"kind": "red-notice", "issuing_state": "RU", "reference": "A\x1f1"},
            "reference",
            id="reference",
        ),
        pytest.param(EvidenceIn, _evidence(filename="a\x1fb.pdf"), "filename", id="filename"),
    ],
)
def test_control_characters_are_refused_in_free_text(
    model: type[Any], data: dict[str, Any], path: str
) -> None:
    with pytest.raises(ValidationFailed) as raised:
        parse(model, data)

    assert raised.value.message.startswith(f"{path}: String should match pattern")


def test_tabs_and_line_breaks_are_kept_in_a_narrative() -> None:
    narrative = "First call.\nSecond call:\tthreats.\r\nThird call."

    assert parse(IncidentIn, _incident(narrative=narrative)).narrative == narrative


@pytest.mark.parametrize(
    ("occurred", "message"),
    [
        ({"start": "2023-05-17", "precision": "month"}, "a month is given by its first day"),
        ({"start": "2023-05-01", "precision": "year"}, "a year is given by 1 January"),
    ],
)
def test_a_coarse_date_must_be_given_by_its_first_day(
    occurred: dict[str, str], message: str
) -> None:
    with pytest.raises(ValidationFailed, match=message):
        parse(IncidentIn, _incident(occurred=occurred))


def test_coarse_dates_given_by_their_first_day_are_accepted() -> None:
    month = parse(IncidentIn, _incident(occurred={"start": "2023-05-01", "precision": "month"}))
    year = parse(IncidentIn, _incident(occurred={"start": "2023-01-01", "precision": "year"}))
    assert (month.occurred.start.day, year.occurred.start.month) == (1, 1)


def test_a_validation_error_never_quotes_its_input() -> None:
    # A traceback prints the whole pydantic error; it must not carry a name into a log.
    data = {"identity": {"names": [{"value": "Ayşe Özdemir", "script": "Latin"}]}}
    with pytest.raises(ValidationError) as caught:
        PersonIn.model_validate(data)
    assert "string_too_long" in repr(caught.value.errors(include_input=False))
    assert "Ayşe" not in str(caught.value)
