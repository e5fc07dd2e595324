"""Casework through the pages (no browser): the inbox and filters, the case page's forms with
and without the CSRF token, a referral refused outside consent, and the receiving authority's
side; who may not see what."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from haven.access.accounts import NewOrganisation, NewUser, create_organisation, create_user
from haven.access.models import RecordRecipient
from haven.casework.models import CaseLink, CaseNote, Referral
from haven.crypto.fields import FieldCipher
from haven.db.values import utcnow
from haven.domain.enums import ContributorKind, ReportChannel, ReportStatus, Role, Tlp
from haven.intake.models import Report
from haven.intake.reports import ReportIn, Submission, set_intake_organisation, submit_report
from haven.registry.models import Incident
from haven.runtime import Runtime
from haven.web.app import create_app

PASSWORD = "correct horse battery staple"
OVERDUE = '<strong class="error">overdue</strong>'
NOTE = "Spoke to her lawyer; the summons is genuine."


@dataclass
class Orgs:
    ngo: str
    other: str
    de: str
    fr: str
    caseworker_id: str
    coordinator_id: str


@pytest.fixture
def orgs(runtime: Runtime, cipher: FieldCipher) -> Orgs:
    with runtime.transaction() as session:

        def org(name: str, kind: ContributorKind, state: str | None) -> str:
            return create_organisation(
                session, cipher, NewOrganisation(name, kind, state), actor="t"
            )

        ngo = org("Exile Legal Aid", ContributorKind.NGO, None)
        other = org("Other NGO", ContributorKind.NGO, None)
        de = org("Bundeskriminalamt", ContributorKind.AUTHORITY, "DE")
        fr = org("Police nationale", ContributorKind.AUTHORITY, "FR")
        ids = {}
        for login, organisation, role in (
            ("case@ela.example", ngo, Role.CASEWORKER),
            ("coord@ela.example", ngo, Role.COORDINATOR),
            ("analyst@ela.example", ngo, Role.ANALYST),
            ("case@other.example", other, Role.CASEWORKER),
            ("case@bka.example", de, Role.CASEWORKER),
            ("analyst@bka.example", de, Role.ANALYST),
            ("case@pn.example", fr, Role.CASEWORKER),
        ):
            ids[login] = create_user(
                session,
                cipher,
                NewUser(organisation, login, PASSWORD, frozenset({role})),
                actor="t",
            )
        set_intake_organisation(session, ngo, actor="test")
    return Orgs(ngo, other, de, fr, ids["case@ela.example"], ids["coord@ela.example"])


@pytest.fixture
def app(runtime: Runtime) -> Any:
    return create_app(runtime)


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def _client(app: Any) -> TestClient:
    return TestClient(app)


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]*)"', html)
    assert found, html
    return found.group(1)


def _sign_in(client: TestClient, login: str, *, second_factor: bool = True) -> None:
    form = client.get("/sign-in")
    client.post(
        "/sign-in", data={"login": login, "password": PASSWORD, "csrf": _csrf(form.text)}
    ).raise_for_status()
    if not second_factor:
        return
    page = client.get("/account/second-factor")
    seed = re.search(r'id="seed">([A-Z2-7]+)<', page.text)
    signed = re.search(r'name="seed" value="([^"]+)"', page.text)
    assert seed is not None
    assert signed is not None
    done = client.post(
        "/account/second-factor",
        data={
            "seed": signed.group(1),
            "code": pyotp.TOTP(seed.group(1)).now(),
            "csrf": _csrf(page.text),
        },
    )
    assert done.status_code == 200


def _submit(runtime: Runtime, cipher: FieldCipher, orgs: Orgs, **changes: Any) -> str:
    data = {
        "what_happened": "They photographed me outside the community centre.",
        "tactics": ["surveillance"],
        "occurred": {"start": "2024-03-01", "precision": "month"},
        "origin_state": "by",
        "host_state": "de",
        "consent": ["authority"],
        **changes,
    }
    submission = Submission(orgs.ngo, ReportChannel.PUBLIC_FORM, "reporter", "report-form")
    with runtime.transaction() as session:
        receipt = submit_report(session, cipher, ReportIn.model_validate(data), submission)
    return receipt.report_id


def _report(runtime: Runtime, report_id: str) -> Report:
    with runtime.reading() as session:
        report = session.get(Report, report_id)
        assert report is not None
        session.expunge(report)
        return report


def _set(runtime: Runtime, report_id: str, **values: Any) -> None:
    with runtime.transaction() as session:
        session.execute(update(Report).where(Report.id == report_id).values(**values))


def _rows(html: str) -> list[str]:
    return re.findall(r'<tr data-id="([^"]+)">', html)


def _post(client: TestClient, path: str, data: dict[str, Any], *, csrf: str | None = None) -> Any:
    token = _csrf(client.get(path.rsplit("/", 1)[0]).text) if csrf is None else csrf
    return client.post(path, data={**data, "csrf": token}, follow_redirects=False)


@pytest.fixture
def caseworker(app: Any, orgs: Orgs) -> Iterator[TestClient]:
    with _client(app) as client:
        _sign_in(client, "case@ela.example")
        yield client


@pytest.fixture
def german(app: Any, orgs: Orgs) -> Iterator[TestClient]:
    with _client(app) as client:
        _sign_in(client, "case@bka.example")
        yield client


# -- the inbox and the list ------------------------------------------------------------------


def test_the_inbox_lists_new_cases_and_marks_the_overdue_one(
    caseworker: TestClient, runtime: Runtime, cipher: FieldCipher, orgs: Orgs
) -> None:
    empty = caseworker.get("/reports")
    assert "Nothing waits for triage." in empty.text
    fresh = _submit(runtime, cipher, orgs)
    late = _submit(runtime, cipher, orgs, urgent=True)
    _set(runtime, late, ack_due_at=utcnow() - timedelta(minutes=5))

    page = caseworker.get("/reports")

    assert page.status_code == 200
    inbox = re.search(r'<ul class="inbox">(.*?)</ul>', page.text, re.S)
    assert inbox is not None
    items = {
        re.search(r'href="/reports/([^"]+)"', li).group(1): li  # type: ignore[union-attr]
        for li in re.findall(r"<li>(.*?)</li>", inbox.group(1), re.S)
    }
    assert set(items) == {fresh, late}
    assert OVERDUE in items[late]
    assert OVERDUE not in items[fresh]
    assert "<strong>urgent</strong>" in items[late]

    # Once triaged, a case leaves the inbox but stays in the list.
    _set(runtime, late, status=ReportStatus.TRIAGED)
    page = caseworker.get("/reports")
    inbox = re.search(r'<ul class="inbox">(.*?)</ul>', page.text, re.S)
    assert inbox is not None
    assert late not in inbox.group(1)
    assert OVERDUE not in page.text
    assert set(_rows(page.text)) == {fresh, late}


def test_the_list_filters_by_status_urgency_and_assignment(
    caseworker: TestClient, runtime: Runtime, cipher: FieldCipher, orgs: Orgs
) -> None:
    urgent = _submit(runtime, cipher, orgs, urgent=True)
    mine = _submit(runtime, cipher, orgs)
    theirs = _submit(runtime, cipher, orgs)
    _set(runtime, mine, status=ReportStatus.TRIAGED, assigned_to=orgs.caseworker_id)
    _set(runtime, theirs, assigned_to=orgs.coordinator_id)

    def listed(query: str) -> set[str]:
        page = caseworker.get(f"/reports?{query}")
        assert page.status_code == 200, page.text
        return set(_rows(page.text))

    assert listed("") == {urgent, mine, theirs}
    assert listed("status=&urgent=&assigned=") == {urgent, mine, theirs}
    assert listed("status=triaged") == {mine}
    assert listed("status=received") == {urgent, theirs}
    assert listed("urgent=true") == {urgent}
    assert listed("urgent=false") == {mine, theirs}
    assert listed("assigned=me") == {mine}
    assert listed("assigned=nobody") == {urgent}
    assert listed("status=received&assigned=nobody&urgent=true") == {urgent}
    assert listed("status=verified") == set()
    kept = caseworker.get("/reports?status=triaged&assigned=me").text
    assert '<option value="triaged" selected>' in kept
    assert '<option value="me" selected>' in kept
    assert caseworker.get("/reports?status=bogus").status_code == 422


def test_an_analyst_gets_403_on_cases_and_referrals(
    app: Any, runtime: Runtime, cipher: FieldCipher, orgs: Orgs
) -> None:
    report_id = _submit(runtime, cipher, orgs)
    for login in ("analyst@ela.example", "analyst@bka.example"):
        with _client(app) as analyst:
            _sign_in(analyst, login, second_factor=False)
            assert analyst.get("/reports").status_code == 403
            assert analyst.get(f"/reports/{report_id}").status_code == 403
            assert analyst.get("/referrals").status_code == 403


# -- the case page ---------------------------------------------------------------------------


def test_the_case_forms_work_with_the_csrf_token_and_show_on_the_timeline(
    caseworker: TestClient, runtime: Runtime, cipher: FieldCipher, orgs: Orgs
) -> None:
    report_id = _submit(runtime, cipher, orgs)
    earlier = _submit(runtime, cipher, orgs)
    earlier_incident = _report(runtime, earlier).incident_id
    path = f"/reports/{report_id}"
    page = caseworker.get(path)
    assert page.status_code == 200
    assert "<li>Received; nothing done yet.</li>" in page.text
    assert page.text.count('action="/reports/' + report_id + '/move"') == 1
    assert "A case is referred once it is verified." in page.text

    moved = _post(caseworker, f"{path}/move", {"to": "triaged"})
    assert (moved.status_code, moved.headers["location"]) == (303, path)
    assert _post(caseworker, f"{path}/assign", {"user_id": orgs.caseworker_id}).status_code == 303
    assert _post(caseworker, f"{path}/note", {"body": NOTE}).status_code == 303
    linked = _post(
        caseworker, f"{path}/link", {"entity": "incidents", "record_id": earlier_incident}
    )
    assert linked.status_code == 303
    assert _post(caseworker, f"{path}/move", {"to": "verified"}).status_code == 303
    referred = _post(
        caseworker, f"{path}/refer", {"organisation_id": orgs.de, "asks": ["protection"]}
    )
    assert referred.status_code == 303

    html = caseworker.get(path).text
    assert '<dd id="case-status">referred</dd>' in html
    assert f'<p class="body">{NOTE}</p>' in html
    assert f"incidents <code>{earlier_incident}</code>" in html
    assert f'<option value="{orgs.caseworker_id}" selected>case@ela.example</option>' in html
    timeline = re.search(r'<ol class="timeline">(.*?)</ol>', html, re.S)
    assert timeline is not None
    entries = re.findall(r"</span> ([^<]*)</li>", timeline.group(1))
    assert entries == [
        "status: received → triaged",
        f"assignment (user:{orgs.caseworker_id})",
        entries[2],
        f"link (incidents:{earlier_incident})",
        "status: triaged → verified",
        f"referral: verified → referred (contributors:{orgs.de} asks protection)",
    ]
    assert entries[2].startswith("note (case_notes:")
    assert NOTE not in timeline.group(1)
    assert timeline.group(1).count(f"user:{orgs.caseworker_id}</span>") == 6
    assert '<td class="referral-status">sent</td>' in html


@pytest.mark.parametrize(
    ("action", "data"),
    [
        ("move", {"to": "triaged"}),
        ("assign", {"user_id": "CASEWORKER"}),
        ("note", {"body": NOTE}),
        ("link", {"entity": "incidents", "record_id": "INCIDENT"}),
        ("refer", {"organisation_id": "DE", "asks": ["protection"]}),
    ],
)
@pytest.mark.parametrize("token", ["", "forged"])
def test_the_case_forms_refuse_without_the_csrf_token(
    caseworker: TestClient,
    runtime: Runtime,
    cipher: FieldCipher,
    orgs: Orgs,
    *,
    action: str,
    data: dict[str, Any],
    token: str,
) -> None:
    report_id = _submit(runtime, cipher, orgs)
    if action == "refer":
        _set(runtime, report_id, status=ReportStatus.VERIFIED)
    values = {
        "CASEWORKER": orgs.caseworker_id,
        "INCIDENT": _report(runtime, report_id).incident_id,
        "DE": orgs.de,
    }
    filled = {k: values.get(v, v) if isinstance(v, str) else v for k, v in data.items()}
    before = _report(runtime, report_id)

    refused = _post(caseworker, f"/reports/{report_id}/{action}", filled, csrf=token)

    assert refused.status_code == 403
    after = _report(runtime, report_id)
    assert (after.status, after.assigned_to, after.updated_at) == (
        before.status,
        before.assigned_to,
        before.updated_at,
    )
    with runtime.reading() as session:
        assert session.scalars(select(CaseNote)).all() == []
        assert session.scalars(select(CaseLink)).all() == []
        assert session.scalars(select(Referral)).all() == []
    assert "<li>Received; nothing done yet.</li>" in caseworker.get(f"/reports/{report_id}").text
    # The same form with the page's token goes through.
    assert _post(caseworker, f"/reports/{report_id}/{action}", filled).status_code == 303


def test_a_refused_move_says_which_moves_are_possible(
    caseworker: TestClient, runtime: Runtime, cipher: FieldCipher, orgs: Orgs
) -> None:
    report_id = _submit(runtime, cipher, orgs)
    refused = _post(caseworker, f"/reports/{report_id}/move", {"to": "verified"})
    assert refused.status_code == 422
    assert "a received case cannot become verified" in refused.text
    assert "from received: closed, triaged" in refused.text
    assert _report(runtime, report_id).status is ReportStatus.RECEIVED


def test_a_referral_outside_consent_shows_the_reason(
    caseworker: TestClient, runtime: Runtime, cipher: FieldCipher, orgs: Orgs
) -> None:
    report_id = _submit(runtime, cipher, orgs)  # consent: authorities of Germany
    _set(runtime, report_id, status=ReportStatus.VERIFIED)
    page = caseworker.get(f"/reports/{report_id}").text
    assert f'<option value="{orgs.fr}">Police nationale (authority, FR)</option>' in page

    refused = _post(
        caseworker,
        f"/reports/{report_id}/refer",
        {"organisation_id": orgs.fr, "asks": ["protection"]},
    )

    assert refused.status_code == 403
    assert (
        "not referred: the person has not consented to authorities of FR seeing this case"
        in refused.text
    )
    assert "the reporter can widen consent with their receipt code" in refused.text
    assert _report(runtime, report_id).status is ReportStatus.VERIFIED
    with runtime.reading() as session:
        assert session.scalars(select(Referral)).all() == []


# -- the receiving side ----------------------------------------------------------------------


def _referred(caseworker: TestClient, runtime: Runtime, cipher: FieldCipher, orgs: Orgs) -> str:
    report_id = _submit(runtime, cipher, orgs, target_name="Aziza Karimova-Lindqvist")
    for to in ("triaged", "verified"):
        assert _post(caseworker, f"/reports/{report_id}/move", {"to": to}).status_code == 303
    referred = _post(
        caseworker,
        f"/reports/{report_id}/refer",
        {"organisation_id": orgs.de, "asks": ["protection", "investigation"]},
    )
    assert referred.status_code == 303
    with runtime.reading() as session:
        return session.scalars(select(Referral.id)).one()


def test_the_authority_sees_the_referral_acknowledges_it_and_records_an_action(
    caseworker: TestClient,
    german: TestClient,
    runtime: Runtime,
    cipher: FieldCipher,
    orgs: Orgs,
) -> None:
    referral_id = _referred(caseworker, runtime, cipher, orgs)
    with runtime.reading() as session:
        report_id = session.scalars(select(Referral.report_id)).one()

    listing = german.get("/referrals")
    assert listing.status_code == 200
    assert _rows(listing.text) == [referral_id]
    assert "<td>Exile Legal Aid</td>" in listing.text
    page = german.get(f"/referrals/{referral_id}")
    assert page.status_code == 200
    assert "<h1>Referral from Exile Legal Aid</h1>" in page.text
    assert '<dd id="referral-status">sent</dd>' in page.text
    assert "They photographed me outside the community centre." in page.text
    assert "Aziza Karimova-Lindqvist" in page.text  # the person, through the referral
    assert "Record what was done" not in page.text

    forged = german.post(f"/referrals/{referral_id}/acknowledge", data={"csrf": "forged"})
    assert forged.status_code == 403
    acknowledged = _post(german, f"/referrals/{referral_id}/acknowledge", {})
    assert (acknowledged.status_code, acknowledged.headers["location"]) == (
        303,
        f"/referrals/{referral_id}",
    )
    page = german.get(f"/referrals/{referral_id}")
    assert '<dd id="referral-status">acknowledged</dd>' in page.text
    assert _report(runtime, report_id).status is ReportStatus.ACKNOWLEDGED

    no_reason = _post(german, f"/referrals/{referral_id}/action", {"action": "no-action"})
    assert no_reason.status_code == 422
    assert "say why no action is taken" in no_reason.text
    forged = german.post(
        f"/referrals/{referral_id}/action",
        data={"action": "protection-measures", "csrf": "forged"},
    )
    assert forged.status_code == 403
    assert _report(runtime, report_id).status is ReportStatus.ACKNOWLEDGED
    recorded = _post(german, f"/referrals/{referral_id}/action", {"action": "protection-measures"})
    assert recorded.status_code == 303

    page = german.get(f"/referrals/{referral_id}")
    assert '<strong id="referral-action">protection-measures</strong>' in page.text
    assert '<dd id="referral-status">action-recorded</dd>' in page.text
    assert _report(runtime, report_id).status is ReportStatus.ACTION_RECORDED
    case = caseworker.get(f"/reports/{report_id}").text
    assert '<dd id="case-status">action-recorded</dd>' in case
    assert '<td class="referral-status">action-recorded</td>' in case
    assert "<td>protection-measures</td>" in case


def test_an_organisation_the_case_was_not_referred_to_gets_404(
    app: Any, caseworker: TestClient, runtime: Runtime, cipher: FieldCipher, orgs: Orgs
) -> None:
    referral_id = _referred(caseworker, runtime, cipher, orgs)
    with runtime.reading() as session:
        report_id = session.scalars(select(Referral.report_id)).one()

    for login in ("case@pn.example", "case@other.example"):
        with _client(app) as stranger:
            _sign_in(stranger, login)
            listing = stranger.get("/referrals")
            assert listing.status_code == 200
            assert _rows(listing.text) == []
            page = stranger.get(f"/referrals/{referral_id}")
            assert page.status_code == 404
            assert "Aziza" not in page.text
            token = _csrf(listing.text)
            for action, data in (("acknowledge", {}), ("action", {"action": "prosecution"})):
                answer = stranger.post(
                    f"/referrals/{referral_id}/{action}", data={**data, "csrf": token}
                )
                assert answer.status_code == 404
            assert stranger.get(f"/reports/{report_id}").status_code == 404
    # The sender cannot acknowledge its own referral either.
    token = _csrf(caseworker.get("/referrals").text)
    sender = caseworker.post(f"/referrals/{referral_id}/acknowledge", data={"csrf": token})
    assert sender.status_code == 404
    assert caseworker.get(f"/referrals/{referral_id}").status_code == 404
    assert _report(runtime, report_id).status is ReportStatus.REFERRED


def test_a_case_relabelled_red_leaves_the_list_and_page_of_everyone_it_does_not_name(
    app: Any, caseworker: TestClient, runtime: Runtime, cipher: FieldCipher, orgs: Orgs
) -> None:
    report_id = _submit(runtime, cipher, orgs)
    incident_id = _report(runtime, report_id).incident_id
    assert report_id in _rows(caseworker.get("/reports").text)
    with runtime.transaction() as session:
        session.execute(update(Incident).where(Incident.id == incident_id).values(tlp=Tlp.RED))
        session.add(
            RecordRecipient(entity="incidents", record_id=incident_id, user_id=orgs.coordinator_id)
        )

    # The case list and page give the gate's answer, as every incident read does.
    assert report_id not in _rows(caseworker.get("/reports").text)
    assert caseworker.get(f"/reports/{report_id}").status_code == 404
    with _client(app) as coordinator:
        _sign_in(coordinator, "coord@ela.example")
        assert report_id in _rows(coordinator.get("/reports").text)
        page = coordinator.get(f"/reports/{report_id}")
        assert page.status_code == 200
        assert "They photographed me" in page.text
