"""From a report to the member state's focal point, by e-mail and by webhook, through real
receivers; and a report outside the person's consent reaches nobody.

A report is written TLP:AMBER+STRICT (its handling organisation only), so no one else may be
told of it until that organisation shares it. Here the handling NGO's triage shares urgent
reports with a sharing group of member-state focal points (label AMBER, the group named), in
the same transaction; the person's consent still decides. The event is built with
:func:`haven.notify.outbox.report_event` and emitted after that step; an ``emit`` that
``submit_report`` makes by itself (before the share) can add no row for the focal point, so the
counts below hold either way.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from haven.access.accounts import create_sharing_group, reader_for
from haven.access.models import User
from haven.access.sharing import share_record
from haven.crypto.fields import FieldCipher
from haven.domain.enums import ReportChannel, Tlp
from haven.intake.models import Report
from haven.intake.reports import ReportIn, Submission, submit_report
from haven.notify.models import Channel, OutboxMessage
from haven.notify.outbox import emit, report_event
from haven.notify.subscriptions import Owner, Rules, add_subscription, add_webhook
from haven.notify.worker import deliver_batch
from haven.registry.models import Incident
from haven.runtime import Runtime

FOCAL_LOGIN = "focal-point@bka.example.org"
TARGET = "Zerafshan Quillborough-Nakamura"
NARRATIVE = "Two men from the Thornvale consulate waited outside my flat and named my sister."
PLACE = "Wolkenhain-am-Spreebogen"
PERPETRATOR = "Colonel Brisbane-Okafor of the Thornvale embassy"
SECRETS = (TARGET, "Quillborough", NARRATIVE, "Thornvale", PLACE, "Wolkenhain", PERPETRATOR)


def _report(consent: list[str]) -> ReportIn:
    return ReportIn.model_validate(
        {
            "what_happened": NARRATIVE,
            "tactics": ["intimidation"],
            "occurred": {"start": "2026-03-01", "precision": "month"},
            "origin_state": "BY",
            "host_state": "DE",
            "place": PLACE,
            "perpetrator_kind": "embassy",
            "perpetrator": PERPETRATOR,
            "target_name": TARGET,
            "urgent": True,
            "consent": consent,
        }
    )


def _subscribe_focal_point(
    runtime: Runtime, cipher: FieldCipher, world: Any, receiver: Any
) -> None:
    """The German focal point wants urgent reports in Germany by e-mail; their authority runs a
    webhook for the same."""
    rules = Rules(Channel.EMAIL, host_state="DE", urgent_only=True)
    with runtime.transaction() as session:
        add_subscription(session, cipher, Owner(user_id=world.focal_point), rules, actor="t")
        org = Owner(organisation_id=world.de_authority)
        hook_rules = Rules(Channel.WEBHOOK, host_state="DE", urgent_only=True)
        add_subscription(session, cipher, org, hook_rules, actor="t")
        hook = add_webhook(session, cipher, world.de_authority, receiver.url, actor="t")
        # Someone in France subscribed to everything: the report is not theirs to see.
        add_subscription(
            session, cipher, Owner(user_id=world.fr_focal_point), Rules(Channel.EMAIL), actor="t"
        )
    receiver.secret = hook.secret


def _submit_and_triage(session: Session, cipher: FieldCipher, world: Any, report: ReportIn) -> str:
    submission = Submission(world.ngo, ReportChannel.PUBLIC_FORM, "reporter", "report-form")
    receipt = submit_report(session, cipher, report, submission)
    stored = session.get(Report, receipt.report_id)
    assert stored is not None
    incident = session.get(Incident, stored.incident_id)
    assert incident is not None
    # The handling NGO's triage: urgent reports go to the focal points' sharing group.
    group = create_sharing_group(
        session,
        cipher,
        "Urgent response",
        world.ngo,
        [world.de_authority, world.fr_authority],
        actor="t",
    )
    incident.tlp = Tlp.AMBER
    session.flush()
    caseworker = session.get(User, world.ngo_caseworker)
    assert caseworker is not None
    ngo = reader_for(session, caseworker, surface="test")
    share_record(session, ngo, "incidents", incident.id, groups=[group])
    emit(session, cipher, report_event(stored, incident))
    return stored.id


def test_an_urgent_report_reaches_the_states_focal_point_by_email_and_webhook(
    runtime: Runtime,
    cipher: FieldCipher,
    world: Any,
    *,
    receiver: Any,
    smtp_server: Any,
) -> None:
    runtime.settings = runtime.settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_server.port,
            "base_url": "https://haven.test",
        }
    )
    _subscribe_focal_point(runtime, cipher, world, receiver)
    with runtime.transaction() as session:
        report_id = _submit_and_triage(session, cipher, world, _report(["authority"]))

    while deliver_batch(runtime):
        pass

    # E-mail: to the focal point's login, saying there is something to see, nothing more.
    (mail,) = smtp_server.to(FOCAL_LOGIN)
    assert smtp_server.messages == [mail]  # nobody else, the French focal point included
    body = mail.get_payload(decode=True).decode()
    assert f"https://haven.test/reports/{report_id}" in body
    assert body.startswith("There is something new to see in Haven: report-received R-")
    # Webhook: signed (the receiver checks), with the delivery id, and nothing sensitive.
    assert receiver.bad_signatures == 0
    (delivery,) = receiver.deliveries
    (document,) = receiver.bodies
    assert document["delivery_id"] == delivery
    assert document["kind"] == "report-received"
    assert document["link"] == f"https://haven.test/reports/{report_id}"
    assert "content" not in document
    for secret in (*SECRETS, "BY"):
        assert secret not in body
        assert secret not in str(document)
    assert set(document) == {"delivery_id", "digest", "kind", "link", "reference", "text", "tlp"}


def test_a_report_outside_the_persons_consent_reaches_nobody(
    runtime: Runtime,
    cipher: FieldCipher,
    world: Any,
    *,
    receiver: Any,
    smtp_server: Any,
) -> None:
    runtime.settings = runtime.settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": smtp_server.port}
    )
    _subscribe_focal_point(runtime, cipher, world, receiver)
    with runtime.transaction() as session:
        # The person allowed NGOs only, not authorities: the label and the share admit the
        # focal points, the consent does not.
        _submit_and_triage(session, cipher, world, _report(["ngo"]))

    assert deliver_batch(runtime) == 0
    with runtime.reading() as session:
        assert session.scalars(select(OutboxMessage)).all() == []
    assert smtp_server.messages == []
    assert receiver.deliveries == []
