"""From a report to the member state's focal point, by e-mail and by webhook, through real
receivers; and a report outside the person's consent reaches nobody.

A report is written TLP:AMBER+STRICT (its handling organisation only). An urgent one is also
visible at once to the authorities of the member state where it happened, within the person's
consent (the policy gate's rule), so their focal point is told without waiting for triage.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from haven.crypto.fields import FieldCipher
from haven.intake.models import Report
from haven.intake.reports import ReportIn, set_intake_organisation
from haven.notify.models import Channel, OutboxMessage
from haven.notify.subscriptions import Endpoint, Owner, Rules, add_subscription, add_webhook
from haven.notify.worker import deliver_batch
from haven.runtime import Runtime
from haven.web.app import create_app

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
        endpoint = Endpoint(world.de_authority, receiver.url)
        hook = add_webhook(session, cipher, endpoint, actor="t", settings=runtime.settings)
        # Someone in France subscribed to everything: the report is not theirs to see.
        add_subscription(
            session, cipher, Owner(user_id=world.fr_focal_point), Rules(Channel.EMAIL), actor="t"
        )
    receiver.secret = hook.secret


def _submit(runtime: Runtime, world: Any, report: ReportIn) -> str:
    """Through the public form, as a person at risk sends it: the form's own transaction
    writes the report and its notifications."""
    with runtime.transaction() as session:
        set_intake_organisation(session, world.ngo, actor="test")
    client = TestClient(create_app(runtime))
    form = client.get("/report")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    fields = {
        "csrf": csrf.group(1),
        "urgent": "yes" if report.urgent else "no",
        "tactics": list(report.tactics),
        "what_happened": report.what_happened,
        "year": str(report.occurred.start.year),
        "month": str(report.occurred.start.month),
        "origin_state": report.origin_state,
        "host_state": report.host_state or "",
        "place": report.place or "",
        "perpetrator_kind": report.perpetrator_kind.value,
        "perpetrator": report.perpetrator or "",
        "target_name": report.target_name or "",
        "consent": [kind.value for kind in report.consent],
    }
    answer = client.post("/report", data=fields)
    assert answer.status_code == 200, answer.text
    with runtime.reading() as session:
        return str(session.scalars(select(Report.id)).one())


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
    report_id = _submit(runtime, world, _report(["authority"]))

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
    # The person allowed NGOs only, not authorities: the urgency would admit the focal
    # points, the consent does not.
    _submit(runtime, world, _report(["ngo"]))

    assert deliver_batch(runtime) == 0
    with runtime.reading() as session:
        assert session.scalars(select(OutboxMessage)).all() == []
    assert smtp_server.messages == []
    assert receiver.deliveries == []
