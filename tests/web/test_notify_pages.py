"""The inbox page and the subscriptions page (own rules; an administrator's organisation rules and
webhooks)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from haven.access import accounts
from haven.access.accounts import NewOrganisation, NewUser, create_organisation, create_user
from haven.access.models import User
from haven.access.passwords import hash_password
from haven.crypto.fields import FieldCipher
from haven.db.values import new_id, utcnow
from haven.domain.enums import ContributorKind, Role
from haven.notify.models import Channel, InboxItem, Subscription, Webhook
from haven.registry.sealed import sealed_context
from haven.runtime import Runtime
from haven.web.app import create_app

PASSWORD = "correct horse battery staple"
SEED = pyotp.random_base32()


@dataclass(frozen=True)
class People:
    organisation: str
    caseworker: str
    admin: str
    other: str


@pytest.fixture
def people(runtime: Runtime, cipher: FieldCipher, monkeypatch: pytest.MonkeyPatch) -> People:
    hashed = hash_password(PASSWORD)  # once for all three users: argon2 is slow on purpose
    monkeypatch.setattr(accounts, "hash_password", lambda _password: hashed)
    with runtime.transaction() as session:
        org = create_organisation(
            session,
            cipher,
            NewOrganisation("BKA focal point", ContributorKind.AUTHORITY, "DE"),
            actor="t",
        )
        ids = [
            create_user(
                session, cipher, NewUser(org, login, PASSWORD, frozenset({role})), actor="t"
            )
            for login, role in (
                ("focal@bka.example.org", Role.CASEWORKER),
                ("admin@bka.example.org", Role.ADMINISTRATOR),
                ("other@bka.example.org", Role.CASEWORKER),
            )
        ]
        for user_id in ids:
            user = session.get(User, user_id)
            assert user is not None
            user.totp_secret = cipher.encrypt(SEED.encode(), f"users.totp_secret:{user_id}")
    return People(org, *ids)


@pytest.fixture(autouse=True)
def webhook_hosts_are_not_looked_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """The webhooks added here name hosts at example.org; checking where they resolve to would
    ask a name server beyond 127.0.0.1. One test turns the check back on for an address."""
    monkeypatch.setenv("HAVEN_WEBHOOK_ALLOW_PRIVATE", "true")


@pytest.fixture
def client(runtime: Runtime, people: People) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as client:
        yield client


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]*)"', html)
    assert found is not None
    return found.group(1)


def _sign_in(client: TestClient, login: str) -> str:
    form = client.get("/sign-in")
    data = {"login": login, "password": PASSWORD, "csrf": _csrf(form.text)}
    assert client.post("/sign-in", data=data, follow_redirects=False).status_code == 303
    factor = client.get("/sign-in/second-factor")
    code = {"code": pyotp.TOTP(SEED).now(), "csrf": _csrf(factor.text)}
    answer = client.post("/sign-in/second-factor", data=code, follow_redirects=False)
    assert answer.headers.get("location") == "/incidents", answer.text
    return _csrf(client.get("/inbox").text)


def _inbox_item(runtime: Runtime, user_id: str, reference: str, minutes_ago: int) -> str:
    item_id = new_id()
    with runtime.transaction() as session:
        session.add(
            InboxItem(
                id=item_id,
                user_id=user_id,
                delivery_id=new_id(),
                kind="report-received",
                reference=reference,
                link=f"/reports/{reference}",
                created_at=utcnow() - timedelta(minutes=minutes_ago),
            )
        )
    return item_id


def test_the_inbox_lists_the_users_items_newest_first_and_marks_them_read(
    client: TestClient, runtime: Runtime, people: People
) -> None:
    older = _inbox_item(runtime, people.caseworker, "R-2026-AAAAAA", 30)
    _inbox_item(runtime, people.caseworker, "R-2026-BBBBBB", 5)
    foreign = _inbox_item(runtime, people.other, "R-2026-CCCCCC", 1)
    csrf = _sign_in(client, "focal@bka.example.org")

    page = client.get("/inbox")
    assert page.status_code == 200
    assert '<a href="/inbox">Inbox</a>' in page.text
    assert page.text.index("R-2026-BBBBBB") < page.text.index("R-2026-AAAAAA")
    assert "R-2026-CCCCCC" not in page.text
    assert "2 unread" in page.text

    opened = client.post(f"/inbox/{older}/read", data={"csrf": csrf}, follow_redirects=False)
    assert opened.headers["location"] == "/reports/R-2026-AAAAAA"
    assert "1 unread" in client.get("/inbox").text
    # Someone else's item is neither opened nor marked.
    client.post(f"/inbox/{foreign}/read", data={"csrf": csrf}, follow_redirects=False)
    with runtime.reading() as session:
        item = session.get(InboxItem, foreign)
        assert item is not None
        assert item.read_at is None

    client.post("/inbox/read-all", data={"csrf": csrf})
    assert "0 unread" in client.get("/inbox").text


def test_a_form_without_its_csrf_token_is_refused(client: TestClient, people: People) -> None:
    _sign_in(client, "focal@bka.example.org")
    answer = client.post("/subscriptions", data={"channel": "inbox", "csrf": "forged"})
    assert answer.status_code == 403


def test_a_user_adds_and_removes_their_own_subscription(
    client: TestClient, runtime: Runtime, people: People
) -> None:
    csrf = _sign_in(client, "focal@bka.example.org")
    page = client.get("/subscriptions")
    assert "You have no subscriptions" in page.text
    assert "Webhooks" not in page.text  # for administrators only

    added = client.post(
        "/subscriptions",
        data={
            "csrf": csrf,
            "channel": "email",
            "mode": "immediate",
            "host_state": "de",
            "urgent_only": "true",
            "kinds": ["report-received", "referral-received"],
        },
    )
    assert added.status_code == 200
    assert "host state DE" in added.text
    assert "urgent only" in added.text
    with runtime.reading() as session:
        (subscription,) = session.scalars(select(Subscription)).all()
    assert subscription.user_id == people.caseworker
    assert subscription.channel is Channel.EMAIL
    assert subscription.kinds == ["referral-received", "report-received"]

    refused = client.post("/subscriptions", data={"csrf": csrf, "channel": "webhook"})
    assert refused.status_code == 422
    assert "webhooks belong to organisations" in refused.text

    client.post(f"/subscriptions/{subscription.id}/delete", data={"csrf": csrf})
    assert "You have no subscriptions" in client.get("/subscriptions").text


def test_only_administrators_manage_webhooks(client: TestClient, people: People) -> None:
    csrf = _sign_in(client, "focal@bka.example.org")
    answer = client.post("/webhooks", data={"csrf": csrf, "url": "https://hooks.example.org/x"})
    assert answer.status_code == 403
    org = client.post("/subscriptions/organisation", data={"csrf": csrf, "channel": "webhook"})
    assert org.status_code == 403


def test_a_webhook_into_havens_own_network_is_refused_on_the_form(
    client: TestClient, runtime: Runtime, people: People
) -> None:
    runtime.settings = runtime.settings.model_copy(update={"webhook_allow_private": False})
    csrf = _sign_in(client, "admin@bka.example.org")
    refused = client.post("/webhooks", data={"csrf": csrf, "url": "http://127.0.0.1:8080/hook"})
    assert refused.status_code == 422
    assert "inside Haven&#39;s own network" in refused.text
    with runtime.reading() as session:
        assert session.scalars(select(Webhook)).all() == []


def test_an_administrator_adds_a_webhook_whose_secret_is_shown_once(
    client: TestClient, runtime: Runtime, cipher: FieldCipher, people: People
) -> None:
    csrf = _sign_in(client, "admin@bka.example.org")
    created = client.post(
        "/webhooks",
        data={"csrf": csrf, "url": "https://hooks.example.org/haven", "approved": ["green"]},
    )
    assert created.status_code == 200
    shown = re.search(r'<code id="webhook-secret">([^<]+)</code>', created.text)
    assert shown is not None
    with runtime.reading() as session:
        (webhook,) = session.scalars(select(Webhook)).all()
    assert webhook.approved_tlp == ["green"]
    context = sealed_context("webhooks", "secret", webhook.id)
    assert cipher.decrypt(webhook.secret, context).decode() == shown.group(1)
    later = client.get("/subscriptions")
    assert shown.group(1) not in later.text
    assert "https://hooks.example.org/haven" in later.text

    bad = client.post("/webhooks", data={"csrf": csrf, "url": "ftp://example.org/x"})
    assert bad.status_code == 422

    client.post(f"/webhooks/{webhook.id}/disable", data={"csrf": csrf})
    assert "Enable again" in client.get("/subscriptions").text
    client.post(f"/webhooks/{webhook.id}/enable", data={"csrf": csrf})
    client.post(f"/webhooks/{webhook.id}/approval", data={"csrf": csrf, "approved": ["amber"]})
    with runtime.reading() as session:
        webhook_now = session.get(Webhook, webhook.id)
        assert webhook_now is not None
        assert webhook_now.disabled_at is None
        assert webhook_now.approved_tlp == ["amber"]


def test_an_administrator_subscribes_the_organisation_by_email(
    client: TestClient, runtime: Runtime, cipher: FieldCipher, people: People
) -> None:
    csrf = _sign_in(client, "admin@bka.example.org")
    answer = client.post(
        "/subscriptions/organisation",
        data={
            "csrf": csrf,
            "channel": "email",
            "mode": "digest",
            "address": "desk@bka.example.org",
            "tactic": "intimidation",
        },
    )
    assert answer.status_code == 200
    assert "email to desk@bka.example.org" in answer.text
    with runtime.reading() as session:
        (subscription,) = session.scalars(select(Subscription)).all()
    assert subscription.organisation_id == people.organisation
    assert subscription.address is not None
    assert b"desk@bka" not in subscription.address
