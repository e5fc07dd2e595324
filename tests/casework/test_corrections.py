"""Consent follows the person, not today's host state: the sequence that once left a withdrawn
consent with an authority (report in FR with consent for authorities, referral to the French
authority, host state corrected to DE or removed, every consent withdrawn), and the warning a
caseworker gets when a correction hides a case from an organisation it was referred to."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import haven.models  # noqa: F401  (every table in the metadata)
from builders import incident
from haven.access.accounts import NewOrganisation, NewUser, create_organisation, create_user
from haven.access.models import Consent
from haven.access.policy import Reader, load_facts, sees, visible
from haven.access.reads import get_incident
from haven.casework.corrections import HostCorrection
from haven.casework.workflow import move, refer
from haven.crypto.fields import FieldCipher
from haven.domain.deadlines import Deadlines
from haven.domain.enums import (
    ContributorKind,
    RecipientKind,
    ReferralAsk,
    ReportChannel,
    ReportStatus,
    Role,
)
from haven.errors import NotFound
from haven.intake.models import Report
from haven.intake.reports import ReportIn, Submission, change_consent, submit_report
from haven.registry.models import Incident, Person
from haven.registry.writer import Actor, RegistryWriter

PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class World:
    ngo: str
    french_authority: str
    caseworker: Reader
    french: Reader
    german: Reader


def _reader(
    session: Session, cipher: FieldCipher, org: str, kind: ContributorKind, state: str | None
) -> Reader:
    login = f"case-{kind.value}-{state or 'eu'}@example.org"
    user = create_user(
        session, cipher, NewUser(org, login, PASSWORD, frozenset({Role.CASEWORKER})), actor="t"
    )
    return Reader(user, org, kind, state, frozenset({Role.CASEWORKER}), frozenset(), "test")


@pytest.fixture
def world(session: Session, cipher: FieldCipher) -> World:
    def org(name: str, kind: ContributorKind, state: str | None) -> str:
        return create_organisation(
            session, cipher, NewOrganisation(name, kind, state), actor="test"
        )

    ngo = org("Exile Legal Aid", ContributorKind.NGO, None)
    fr = org("Police nationale", ContributorKind.AUTHORITY, "FR")
    de = org("Bundeskriminalamt", ContributorKind.AUTHORITY, "DE")
    return World(
        ngo=ngo,
        french_authority=fr,
        caseworker=_reader(session, cipher, ngo, ContributorKind.NGO, None),
        french=_reader(session, cipher, fr, ContributorKind.AUTHORITY, "FR"),
        german=_reader(session, cipher, de, ContributorKind.AUTHORITY, "DE"),
    )


def _referred_in_france(session: Session, cipher: FieldCipher, world: World) -> Report:
    data = {
        "what_happened": "Two men from the consulate waited outside my flat.",
        "tactics": ["intimidation"],
        "occurred": {"start": "2024-03-01", "precision": "month"},
        "origin_state": "by",
        "host_state": "fr",
        "target_name": "Zerafshan Quillmarsh-Ostrava",
        "consent": ["authority", "ngo"],
    }
    submission = Submission(world.ngo, ReportChannel.PUBLIC_FORM, "reporter", "report-form")
    receipt = submit_report(session, cipher, ReportIn.model_validate(data), submission)
    report = session.get(Report, receipt.report_id)
    assert report is not None
    move(session, world.caseworker, report, ReportStatus.TRIAGED)
    move(session, world.caseworker, report, ReportStatus.VERIFIED)
    refer(
        session,
        world.caseworker,
        report,
        world.french_authority,
        [ReferralAsk.PROTECTION],
        deadlines=Deadlines(),
    )
    return report


def _sees(session: Session, reader: Reader, model: type[Incident | Person], key: str) -> bool:
    """Both forms of the gate: the SQL row filter and the per-object check, which must agree."""
    row = session.scalar(select(model.id).where(model.id == key, visible(reader, model)))
    facts = load_facts(session, model, [key])[key]
    assert (row is not None) is sees(reader, facts)
    return row is not None


def _correct_host(
    session: Session, cipher: FieldCipher, world: World, report: Report, host: str | None
) -> list[str]:
    correction = HostCorrection.before(session, report.incident_id)
    writer = RegistryWriter(session, cipher, Actor(world.ngo, world.caseworker.actor, "test"))
    incident_row = session.get(Incident, report.incident_id)
    assert incident_row is not None
    data = incident(
        title=incident_row.title,
        origin_state=incident_row.origin_state,
        host_state=host,
        tactics=["intimidation"],
        tlp=incident_row.tlp.value,
    )
    writer.replace_incident(report.incident_id, data)
    return correction.after(session, actor=world.caseworker.actor)


@pytest.mark.parametrize("host", ["DE", None])
def test_a_withdrawal_after_a_host_state_correction_reaches_the_authority_it_was_referred_to(
    session: Session, cipher: FieldCipher, world: World, host: str | None
) -> None:
    report = _referred_in_france(session, cipher, world)
    assert _sees(session, world.french, Incident, report.incident_id)
    assert _sees(session, world.french, Person, report.person_id)

    warnings = _correct_host(session, cipher, world, report, host)
    change_consent(session, report, frozenset(), host)

    for model, key in ((Incident, report.incident_id), (Person, report.person_id)):
        assert not _sees(session, world.french, model, key)
        assert not _sees(session, world.german, model, key)
    with pytest.raises(NotFound):
        get_incident(session, cipher, world.french, report.incident_id)
    granted = session.scalars(
        select(Consent).where(Consent.person_id == report.person_id, Consent.granted.is_(True))
    ).all()
    assert granted == []
    assert len(warnings) == 1
    assert "Police nationale" in warnings[0]
    assert "FR" in warnings[0]


def test_a_host_state_correction_neither_moves_nor_keeps_the_grant(
    session: Session, cipher: FieldCipher, world: World
) -> None:
    report = _referred_in_france(session, cipher, world)

    _correct_host(session, cipher, world, report, "DE")

    # The person consented for France, where it was recorded to have happened; neither the
    # French authority keeps that grant nor does the German one get it.
    assert not _sees(session, world.french, Incident, report.incident_id)
    assert not _sees(session, world.german, Incident, report.incident_id)
    # The handling NGO still sees its own case; the consent to NGOs stands.
    assert _sees(session, world.caseworker, Incident, report.incident_id)

    # Asked again, the person consents for Germany: the German authority may now be referred.
    change_consent(session, report, frozenset({RecipientKind.AUTHORITY, RecipientKind.NGO}), "DE")
    refer(
        session,
        world.caseworker,
        report,
        str(world.german.organisation_id),
        [ReferralAsk.PROTECTION],
        deadlines=Deadlines(),
    )
    assert _sees(session, world.german, Incident, report.incident_id)
    assert not _sees(session, world.french, Incident, report.incident_id)


def test_an_edit_that_keeps_the_host_state_warns_of_nothing(
    session: Session, cipher: FieldCipher, world: World
) -> None:
    report = _referred_in_france(session, cipher, world)

    assert _correct_host(session, cipher, world, report, "FR") == []
    assert _sees(session, world.french, Incident, report.incident_id)


@pytest.mark.parametrize("host", ["DE", "FR", None])
def test_a_withdrawal_revokes_the_grant_for_every_member_state_whatever_the_host_state(
    session: Session, cipher: FieldCipher, world: World, host: str | None
) -> None:
    report = _referred_in_france(session, cipher, world)

    change_consent(session, report, frozenset({RecipientKind.NGO}), host)

    assert not _sees(session, world.french, Incident, report.incident_id)
    assert not _sees(session, world.french, Person, report.person_id)
    assert _sees(session, world.caseworker, Incident, report.incident_id)
