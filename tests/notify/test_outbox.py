"""Who is told of an event (rules, addressees, the policy gate with consent) and what the outbox
rows may say."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from haven.access.models import User
from haven.audit.models import AuditEntry
from haven.crypto.fields import FieldCipher
from haven.domain.enums import RecipientKind, Tlp
from haven.errors import ValidationFailed
from haven.notify.events import Event, EventKind
from haven.notify.models import Channel, Mode, OutboxMessage, WatchEntity
from haven.notify.outbox import emit, matching_subscriptions, open_content, reference
from haven.notify.subscriptions import Endpoint, Owner, Rules, add_subscription, add_webhook
from haven.registry.sealed import sealed_context
from haven.runtime import Runtime
from haven.settings import Settings

World = Any
HOOK_URL = "https://hooks.example.org/a"


def _event(incident_id: str, **changes: Any) -> Event:
    base = Event(
        kind=EventKind.REPORT_RECEIVED,
        entity="incidents",
        record_id=incident_id,
        reference=reference("R", incident_id, datetime(2026, 1, 1, tzinfo=UTC)),
        link=f"/incidents/{incident_id}",
        tlp=Tlp.GREEN,
        incident_id=incident_id,
        host_state="DE",
        origin_state="BY",
        tactics=("intimidation",),
        urgent=True,
    )
    return replace(base, **changes)


def _subscribe(
    session: Session,
    cipher: FieldCipher,
    user_id: str,
    channel: Channel = Channel.EMAIL,
    **rules: Any,
) -> str:
    return add_subscription(
        session, cipher, Owner(user_id=user_id), Rules(channel=channel, **rules), actor="test"
    )


def _rows(session: Session) -> list[OutboxMessage]:
    return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def _told(session: Session) -> set[tuple[str | None, Channel]]:
    return {(row.user_id or row.webhook_id, row.channel) for row in _rows(session)}


def test_an_urgent_incident_in_its_jurisdiction_reaches_the_subscribed_focal_point(
    session: Session, cipher: FieldCipher, world: World, make_incident: Any
) -> None:
    _subscribe(session, cipher, world.focal_point, host_state="de", urgent_only=True)
    incident_id, _ = make_incident(session, cipher, world.ngo)

    assert emit(session, cipher, _event(incident_id, urgent=False)) == 0
    assert emit(session, cipher, _event(incident_id, host_state="FR")) == 0
    assert emit(session, cipher, _event(incident_id)) == 1

    assert _told(session) == {(world.focal_point, Channel.EMAIL)}


@pytest.mark.parametrize(
    "rules",
    [
        {},
        {"origin_state": "BY"},
        {"tactic": "intimidation"},
        {"kinds": (EventKind.REPORT_RECEIVED,)},
        {"host_state": "DE", "origin_state": "BY", "tactic": "intimidation"},
    ],
)
def test_a_subscription_whose_every_rule_matches_is_told(
    session: Session, cipher: FieldCipher, world: World, rules: dict[str, Any], make_incident: Any
) -> None:
    _subscribe(session, cipher, world.focal_point, **rules)
    incident_id, _ = make_incident(session, cipher, world.ngo)
    assert matching_subscriptions(session, _event(incident_id))
    assert emit(session, cipher, _event(incident_id)) == 1


@pytest.mark.parametrize(
    "rules",
    [
        {"origin_state": "CN"},
        {"tactic": "doxing"},
        {"kinds": (EventKind.RECORD_CREATED, EventKind.DEADLINE_PASSED)},
        {"host_state": "DE", "origin_state": "TR"},
    ],
)
def test_a_subscription_with_one_rule_that_does_not_match_is_not_told(
    session: Session, cipher: FieldCipher, world: World, rules: dict[str, Any], make_incident: Any
) -> None:
    _subscribe(session, cipher, world.focal_point, **rules)
    incident_id, _ = make_incident(session, cipher, world.ngo)
    assert matching_subscriptions(session, _event(incident_id)) == []
    assert emit(session, cipher, _event(incident_id)) == 0


def test_a_watched_person_or_organisation_appearing_in_a_record_is_told(
    session: Session, cipher: FieldCipher, world: World, make_incident: Any
) -> None:
    incident_id, person_id = make_incident(session, cipher, world.ngo)
    agency = "01900000-0000-7000-8000-0000000000aa"
    _subscribe(
        session, cipher, world.focal_point, watch_entity=WatchEntity.PEOPLE, watch_id=person_id
    )
    _subscribe(
        session,
        cipher,
        world.ngo_caseworker,
        Channel.INBOX,
        watch_entity=WatchEntity.ORGANISATIONS,
        watch_id=agency,
    )

    assert emit(session, cipher, _event(incident_id)) == 0
    emit(session, cipher, _event(incident_id, person_ids=(person_id,)))
    assert _told(session) == {(world.focal_point, Channel.EMAIL)}

    emit(session, cipher, _event(incident_id, person_ids=(person_id,), organisation_ids=(agency,)))
    assert _told(session) == {
        (world.focal_point, Channel.EMAIL),
        (world.ngo_caseworker, Channel.INBOX),
    }


def test_a_report_outside_the_persons_consent_reaches_nobody(
    session: Session, cipher: FieldCipher, world: World, make_incident: Any, settings: Settings
) -> None:
    for user_id in (world.focal_point, world.fr_focal_point):
        _subscribe(session, cipher, user_id)
        _subscribe(session, cipher, user_id, Channel.INBOX)
    add_webhook(
        session, cipher, Endpoint(world.de_authority, HOOK_URL), actor="t", settings=settings
    )
    add_subscription(
        session,
        cipher,
        Owner(organisation_id=world.de_authority),
        Rules(Channel.WEBHOOK),
        actor="t",
    )
    # The person allowed NGOs only: no authority is told, by any channel.
    ngo_only, _ = make_incident(session, cipher, world.ngo, consent=(RecipientKind.NGO,))
    assert emit(session, cipher, _event(ngo_only)) == 0
    assert _rows(session) == []

    # Consent to the authorities of Germany reaches the German focal point only.
    german, _ = make_incident(
        session, cipher, world.ngo, consent=(RecipientKind.AUTHORITY,), consent_state="DE"
    )
    emit(session, cipher, _event(german))
    told = _told(session)
    assert (world.focal_point, Channel.EMAIL) in told
    assert (world.focal_point, Channel.INBOX) in told
    assert {user for user, _ in told} & {world.fr_focal_point} == set()
    assert any(channel is Channel.WEBHOOK for _, channel in told)


def test_the_label_decides_too(
    session: Session, cipher: FieldCipher, world: World, make_incident: Any
) -> None:
    _subscribe(session, cipher, world.focal_point)
    _subscribe(session, cipher, world.ngo_caseworker)
    strict, _ = make_incident(session, cipher, world.ngo, tlp=Tlp.AMBER_STRICT)

    emit(session, cipher, _event(strict, tlp=Tlp.AMBER_STRICT))

    assert _told(session) == {(world.ngo_caseworker, Channel.EMAIL)}


def test_an_addressed_event_reaches_its_addressees_only(
    session: Session, cipher: FieldCipher, world: World, make_incident: Any
) -> None:
    for user_id in (world.focal_point, world.fr_focal_point):
        _subscribe(session, cipher, user_id, kinds=(EventKind.REFERRAL_RECEIVED,))
    incident_id, _ = make_incident(session, cipher, world.ngo)
    referral = _event(
        incident_id,
        kind=EventKind.REFERRAL_RECEIVED,
        organisation_id=world.de_authority,
        user_ids=(world.ngo_caseworker,),
    )

    emit(session, cipher, referral)

    # The German authority's subscriber by e-mail; the named user at least in their inbox;
    # the French focal point, though subscribed to referrals, was not addressed.
    assert _told(session) == {
        (world.focal_point, Channel.EMAIL),
        (world.ngo_caseworker, Channel.INBOX),
    }


def test_digest_rows_wait_and_an_immediate_subscription_wins(
    session: Session, cipher: FieldCipher, world: World, make_incident: Any
) -> None:
    _subscribe(session, cipher, world.focal_point, mode=Mode.DIGEST)
    _subscribe(session, cipher, world.ngo_caseworker, mode=Mode.DIGEST)
    _subscribe(session, cipher, world.ngo_caseworker, mode=Mode.IMMEDIATE, origin_state="BY")
    incident_id, _ = make_incident(session, cipher, world.ngo)

    emit(session, cipher, _event(incident_id))

    digest = {row.user_id: row.digest for row in _rows(session)}
    assert digest == {world.focal_point: True, world.ngo_caseworker: False}


def test_an_organisations_inbox_subscription_reaches_its_case_readers(
    session: Session, cipher: FieldCipher, world: World, make_incident: Any
) -> None:
    owner = Owner(organisation_id=world.de_authority)
    add_subscription(session, cipher, owner, Rules(Channel.INBOX), actor="t")
    incident_id, _ = make_incident(session, cipher, world.ngo)

    emit(session, cipher, _event(incident_id))

    # The administrator reads no records, so is not told of one.
    assert _told(session) == {(world.focal_point, Channel.INBOX)}


def _raw_outbox(runtime: Runtime) -> str:
    with runtime.engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM outbox")).all()
    return repr(rows)


def test_nothing_sensitive_is_in_the_outbox(
    runtime: Runtime, cipher: FieldCipher, world: World, make_incident: Any, sensitive: Any
) -> None:
    with runtime.transaction() as session:
        _subscribe(session, cipher, world.focal_point)
        _subscribe(session, cipher, world.focal_point, Channel.INBOX)
        org = Owner(organisation_id=world.de_authority)
        add_subscription(session, cipher, org, Rules(Channel.WEBHOOK), actor="t")
        address = "desk@bka.example.org"
        add_subscription(session, cipher, org, Rules(Channel.EMAIL, address=address), actor="t")
        endpoint = Endpoint(world.de_authority, HOOK_URL)
        add_webhook(session, cipher, endpoint, actor="t", settings=runtime.settings)
        incident_id, person_id = make_incident(session, cipher, world.ngo)
        event = _event(incident_id, person_ids=(person_id,))
        assert emit(session, cipher, event) == 4

    with runtime.reading() as session:
        rows = _rows(session)
        for row in rows:
            assert set(row.payload) == {"kind", "reference", "link", "tlp"}
            assert row.content is None
    raw = _raw_outbox(runtime)
    for secret in (*sensitive.words, address, "focal-point@bka", "BY", "intimidation"):
        assert secret not in raw


def test_a_webhook_approved_for_the_label_gets_the_content_sealed(
    runtime: Runtime, cipher: FieldCipher, world: World, make_incident: Any, sensitive: Any
) -> None:
    with runtime.transaction() as session:
        org = Owner(organisation_id=world.de_authority)
        add_subscription(session, cipher, org, Rules(Channel.WEBHOOK), actor="t")
        approved = add_webhook(
            session,
            cipher,
            Endpoint(
                world.de_authority, "https://hooks.example.org/approved", frozenset({Tlp.GREEN})
            ),
            actor="t",
            settings=runtime.settings,
        )
        plain = add_webhook(
            session,
            cipher,
            Endpoint(world.de_authority, "https://hooks.example.org/plain", frozenset({Tlp.AMBER})),
            actor="t",
            settings=runtime.settings,
        )
        incident_id, _ = make_incident(session, cipher, world.ngo)
        emit(session, cipher, _event(incident_id))

    assert not any(secret in _raw_outbox(runtime) for secret in sensitive.words)
    with runtime.reading() as session:
        rows = {row.webhook_id: row for row in _rows(session)}
        assert rows[plain.id].content is None
        content = open_content(cipher, rows[approved.id])
        assert content is not None
        assert content["host_state"] == "DE"
        assert content["narrative"] == sensitive.narrative
        reads = session.scalars(
            select(AuditEntry.actor).where(
                AuditEntry.action == "read", AuditEntry.entity == "incidents"
            )
        ).all()
        assert reads == [f"webhook:{approved.id}"]


def test_a_red_record_never_goes_to_an_organisations_channels(
    session: Session, cipher: FieldCipher, world: World, make_incident: Any, settings: Settings
) -> None:
    org = Owner(organisation_id=world.de_authority)
    add_subscription(session, cipher, org, Rules(Channel.WEBHOOK), actor="t")
    add_webhook(
        session, cipher, Endpoint(world.de_authority, HOOK_URL), actor="t", settings=settings
    )
    red, _ = make_incident(session, cipher, world.de_authority, tlp=Tlp.RED)
    assert emit(session, cipher, _event(red, tlp=Tlp.RED)) == 0


def test_an_organisation_email_address_is_sealed_per_row(
    session: Session, cipher: FieldCipher, world: World, make_incident: Any
) -> None:
    org = Owner(organisation_id=world.de_authority)
    add_subscription(
        session, cipher, org, Rules(Channel.EMAIL, address="desk@bka.example.org"), actor="t"
    )
    incident_id, _ = make_incident(session, cipher, world.ngo)
    emit(session, cipher, _event(incident_id))
    (row,) = _rows(session)
    assert row.address is not None
    context = sealed_context("outbox", "address", row.id)
    assert cipher.decrypt(row.address, context) == b"desk@bka.example.org"


def test_a_disabled_user_is_not_told(
    session: Session, cipher: FieldCipher, world: World, make_incident: Any
) -> None:
    _subscribe(session, cipher, world.focal_point)
    user = session.get(User, world.focal_point)
    assert user is not None
    user.disabled_at = datetime.now(UTC)
    incident_id, _ = make_incident(session, cipher, world.ngo)
    assert emit(session, cipher, _event(incident_id)) == 0


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        (Rules(Channel.WEBHOOK), "webhooks belong to organisations"),
        (Rules(Channel.EMAIL, address="x@example.org"), "their own login"),
        (Rules(Channel.INBOX, address="x@example.org"), "takes no address"),
        (Rules(Channel.INBOX, host_state="XX"), "unknown country"),
        (Rules(Channel.INBOX, tactic="nonsense"), "tactic"),
    ],
)
def test_a_users_subscription_is_checked(
    session: Session, cipher: FieldCipher, world: World, rules: Rules, message: str
) -> None:
    with pytest.raises(ValidationFailed, match=message):
        add_subscription(session, cipher, Owner(user_id=world.focal_point), rules, actor="t")


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        (Rules(Channel.EMAIL), "give the e-mail address"),
        (Rules(Channel.WEBHOOK, address="x@example.org"), "takes no address"),
    ],
)
def test_an_organisations_subscription_is_checked(
    session: Session, cipher: FieldCipher, world: World, rules: Rules, message: str
) -> None:
    owner = Owner(organisation_id=world.de_authority)
    with pytest.raises(ValidationFailed, match=message):
        add_subscription(session, cipher, owner, rules, actor="t")
