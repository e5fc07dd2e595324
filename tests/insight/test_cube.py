from __future__ import annotations

import random
from typing import Any

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

import builders
from haven.domain.enums import PersonRole
from haven.insight import cube
from haven.insight.models import MethodCount, PlaceCount, TacticCount, TraitCount
from haven.registry import models
from haven.registry.schemas import PersonIn, parse
from haven.registry.writer import RegistryWriter
from haven.runtime import Runtime

# Two tactics of one PACE method (threats from a distance) and one of another (direct attack).
SAME_METHOD = ("hacking", "spyware")
OTHER_METHOD = "abduction"


_incident = builders.incident


def _in_step(session: Session) -> None:
    assert cube.drift(session.connection()) == dict.fromkeys((c.table for c in cube.CUBES), 0)


def _counts(session: Session, model: Any, column: Any) -> dict[object, int]:
    rows = session.execute(select(column, model.n).where(model.n != 0)).all()
    totals: dict[object, int] = {}
    for key, n in rows:
        totals[key] = totals.get(key, 0) + n
    return totals


def test_a_method_counts_an_incident_once_however_many_of_its_tactics_it_has(
    writer: RegistryWriter, session: Session
) -> None:
    writer.add_incident(_incident(tactics=[*SAME_METHOD, OTHER_METHOD]))
    writer.flush()
    methods = _counts(session, MethodCount, MethodCount.method)
    assert methods == {"threats-from-a-distance": 1, "direct-attack": 1}
    assert _counts(session, TacticCount, TacticCount.tactic) == {
        "hacking": 1,
        "spyware": 1,
        "abduction": 1,
    }
    _in_step(session)


def test_counts_follow_every_kind_of_change(writer: RegistryWriter, session: Session) -> None:
    person = writer.add_person(parse(PersonIn, {"profile": "journalist"}))
    first = writer.add_incident(_incident(tactics=list(SAME_METHOD)))
    second = writer.add_incident(_incident(tlp="amber", accusation="terrorism"))
    writer.flush()
    writer.link_person(first, person, PersonRole.TARGET)
    writer.link_person(second, person, PersonRole.WITNESS)
    writer.flush()
    _in_step(session)

    # A new label, place and year move the incident and everything under it.
    writer.replace_incident(
        first,
        _incident(
            tactics=[OTHER_METHOD, "spyware"],
            tlp="clear",
            host_state="fr",
            occurred={"start": "2021-02-01", "precision": "month"},
        ),
    )
    _in_step(session)
    assert _counts(session, PlaceCount, PlaceCount.year) == {2021: 1, 2023: 1}

    # A target's profile, the clearance for statistics, a role, a removed link, plain SQL.
    session.execute(
        update(models.Person).where(models.Person.id == person).values(profile="lawyer")
    )
    session.execute(
        update(models.Incident)
        .where(models.Incident.id == second)
        .values(cleared_for_statistics=True, host_state=None, accusation=None)
    )
    session.execute(
        update(models.IncidentPerson)
        .where(models.IncidentPerson.incident_id == second)
        .values(role=PersonRole.TARGET.value)
    )
    _in_step(session)
    session.execute(text("DELETE FROM incident_people"))
    session.execute(text("DELETE FROM incident_tactics WHERE tactic = 'spyware'"))
    _in_step(session)
    session.execute(text("DELETE FROM incidents"))
    _in_step(session)
    assert _counts(session, PlaceCount, PlaceCount.origin) == {}


def test_a_tactic_row_is_replaced_not_updated(writer: RegistryWriter, session: Session) -> None:
    writer.add_incident(_incident())
    writer.flush()
    with pytest.raises(DBAPIError, match="replaced, not updated"):
        session.execute(text("UPDATE incident_tactics SET tactic = 'spyware'"))


def test_random_histories_stay_in_step(runtime: Runtime, writer: RegistryWriter) -> None:
    rng = random.Random(7)
    tactics = ["harassment", "spyware", "hacking", "abduction", "physical-assault"]
    session = writer.session
    people = [
        writer.add_person(parse(PersonIn, {"profile": rng.choice(["journalist", "activist"])}))
        for _ in range(5)
    ]
    incidents: list[str] = []
    for step in range(60):
        move = rng.random()
        if move < 0.5 or not incidents:
            incidents.append(
                writer.add_incident(
                    _incident(
                        tactics=rng.sample(tactics, rng.randint(1, 3)),
                        tlp=rng.choice(["clear", "green", "amber", "amber+strict", "red"]),
                        origin_state=rng.choice(["ru", "cn", "ir"]),
                        host_state=rng.choice(["de", "fr", None]),
                        cleared_for_statistics=rng.random() < 0.3,
                    )
                )
            )
            writer.flush()
            writer.link_person(incidents[-1], rng.choice(people), PersonRole.TARGET)
        elif move < 0.75:
            writer.replace_incident(
                rng.choice(incidents),
                _incident(
                    tactics=rng.sample(tactics, rng.randint(1, 3)),
                    tlp=rng.choice(["clear", "amber"]),
                    occurred={"start": f"{2015 + step % 8}-01-01", "precision": "year"},
                ),
            )
        else:
            session.execute(
                update(models.Person)
                .where(models.Person.id == rng.choice(people))
                .values(profile=rng.choice(["lawyer", "academic", None]))
            )
        writer.flush()
    _in_step(session)


def test_rebuild_recounts_from_the_records(writer: RegistryWriter, session: Session) -> None:
    writer.add_incident(_incident(tactics=list(SAME_METHOD)))
    writer.flush()
    before = _counts(session, TacticCount, TacticCount.tactic)
    session.execute(text("UPDATE stats_tactics SET n = n + 5"))
    assert cube.drift(session.connection())["stats_tactics"] == 2
    cube.rebuild(session.connection())
    _in_step(session)
    assert _counts(session, TacticCount, TacticCount.tactic) == before


def test_region_keys_place_eu_member_states_in_their_m49_region_too() -> None:
    assert cube.region_of("CY") == "asia+eu"
    assert cube.region_of("DE") == "europe+eu"
    assert cube.region_of("NO") == "europe"
    assert cube.region_of("") == ""
    assert "asia+eu" in cube.region_keys("eu")
    assert cube.region_keys("europe") == ["europe", "europe+eu"]


def test_counts_by_region_follow_the_host_state(writer: RegistryWriter, session: Session) -> None:
    incident = writer.add_incident(_incident(host_state="cy"))
    writer.flush()
    rows = session.execute(select(TraitCount.region, TraitCount.n)).all()
    assert [(row.region, row.n) for row in rows] == [("asia+eu", 1)]
    session.execute(
        update(models.Incident).where(models.Incident.id == incident).values(host_state="NO")
    )
    rows = session.execute(select(TraitCount.region, TraitCount.n).where(TraitCount.n != 0)).all()
    assert [(row.region, row.n) for row in rows] == [("europe", 1)]
    _in_step(session)
