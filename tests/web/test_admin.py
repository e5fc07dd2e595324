"""Administration pages: an organisation's users, and the organisations that use Haven."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from haven.access.accounts import (
    NewOrganisation,
    NewUser,
    create_organisation,
    create_user,
    login_index,
)
from haven.access.models import SharingGroupMember, User
from haven.crypto.fields import FieldCipher
from haven.domain.enums import ContributorKind, Role
from haven.registry.models import Contributor
from haven.runtime import Runtime
from haven.web.app import create_app

PASSWORD = "correct horse battery staple"
SEED = pyotp.random_base32()


@pytest.fixture
def client(runtime: Runtime, cipher: FieldCipher) -> Iterator[TestClient]:
    with runtime.transaction() as session:
        ngo = create_organisation(
            session, cipher, NewOrganisation("Exile Legal Aid", ContributorKind.NGO), actor="t"
        )
        admin = create_user(
            session,
            cipher,
            NewUser(ngo, "admin@example.org", PASSWORD, frozenset({Role.ADMINISTRATOR})),
            actor="t",
        )
        root = create_user(
            session,
            cipher,
            NewUser(ngo, "root@example.org", PASSWORD, frozenset(), system_admin=True),
            actor="t",
        )
        for user_id in (admin, root):
            user = session.get(User, user_id)
            assert user is not None
            user.totp_secret = cipher.encrypt(SEED.encode(), f"users.totp_secret:{user_id}")
    with TestClient(create_app(runtime)) as client:
        yield client


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]*)"', html)
    assert found is not None
    return found.group(1)


def _sign_in(client: TestClient, login: str, password: str = PASSWORD) -> str:
    form = client.get("/sign-in")
    response = client.post(
        "/sign-in",
        data={"login": login, "password": password, "csrf": _csrf(form.text)},
        follow_redirects=False,
    )
    return str(response.headers.get("location", response.status_code))


def _sign_in_with_code(client: TestClient, login: str) -> None:
    """Sign in an account whose second factor uses SEED; a code is good once, so wait for a
    fresh one when the current step was used already."""
    assert _sign_in(client, login) == "/sign-in/second-factor"
    form = client.get("/sign-in/second-factor")
    response = client.post(
        "/sign-in/second-factor",
        data={"code": pyotp.TOTP(SEED).now(), "csrf": _csrf(form.text)},
        follow_redirects=False,
    )
    assert response.headers.get("location") == "/incidents", response.text


def test_an_administrator_adds_a_user_who_can_then_sign_in(
    client: TestClient, runtime: Runtime, cipher: FieldCipher
) -> None:
    _sign_in_with_code(client, "admin@example.org")
    page = client.get("/admin/users")
    added = client.post(
        "/admin/users",
        data={"login": "new@example.org", "roles": ["analyst"], "csrf": _csrf(page.text)},
    )
    assert added.status_code == 200
    password = re.search(r'<code id="new-password">([^<]+)</code>', added.text)
    assert password is not None
    with runtime.reading() as session:
        user = session.scalar(
            select(User).where(User.login_index == login_index(cipher, "new@example.org"))
        )
        assert user is not None
        assert user.roles == ["analyst"]
    twice = client.post(
        "/admin/users",
        data={"login": "new@example.org", "roles": ["analyst"], "csrf": _csrf(page.text)},
    )
    assert "that login is taken" in twice.text
    with TestClient(client.app) as other:
        assert _sign_in(other, "new@example.org", password.group(1)) == "/incidents"


def test_the_organisations_page_is_for_system_administrators(
    client: TestClient, runtime: Runtime
) -> None:
    with runtime.transaction() as session:
        ngo = session.scalars(select(Contributor.id).where(Contributor.name == "Exile Legal Aid"))
        new = NewUser(ngo.one(), "analyst@example.org", PASSWORD, frozenset({Role.ANALYST}))
        create_user(session, runtime.cipher(), new, actor="t")
    assert _sign_in(client, "analyst@example.org") == "/incidents"
    refused = client.get("/admin/organisations", follow_redirects=False)
    assert refused.status_code == 403
    client.cookies.clear()

    _sign_in_with_code(client, "root@example.org")
    page = client.get("/admin/organisations")
    assert page.status_code == 200
    refused = client.post(
        "/admin/organisations",
        data={"name": "Police", "kind": "authority", "member_state": "", "csrf": _csrf(page.text)},
    )
    assert "serves a member state" in refused.text
    client.post(
        "/admin/organisations",
        data={
            "name": "Police",
            "kind": "authority",
            "member_state": "fr",
            "csrf": _csrf(page.text),
        },
    )
    with runtime.reading() as session:
        police = session.scalar(select(Contributor).where(Contributor.name == "Police"))
        assert police is not None
        assert police.member_state == "FR"


def test_an_administrator_manages_the_sharing_groups_their_organisation_owns(
    client: TestClient, runtime: Runtime, cipher: FieldCipher
) -> None:
    with runtime.transaction() as session:
        other = create_organisation(
            session, cipher, NewOrganisation("Other NGO", ContributorKind.NGO), actor="t"
        )
    _sign_in_with_code(client, "admin@example.org")
    page = client.get("/admin/groups")
    assert "owns no sharing group yet" in page.text
    client.post("/admin/groups", data={"name": "Belarus exiles", "csrf": _csrf(page.text)})
    page = client.get("/admin/groups")
    group_id = re.search(r'action="/admin/groups/([^/]+)/members"', page.text)
    assert group_id is not None
    client.post(
        f"/admin/groups/{group_id.group(1)}/members",
        data={"organisation_id": other, "member": "true", "csrf": _csrf(page.text)},
    )
    page = client.get("/admin/groups")
    assert "<li>Other NGO" in page.text
    with runtime.reading() as session:
        members = session.scalars(
            select(SharingGroupMember.organisation_id).where(
                SharingGroupMember.group_id == group_id.group(1)
            )
        ).all()
    assert other in members
    forged = client.post(
        f"/admin/groups/{group_id.group(1)}/members",
        data={"organisation_id": other, "member": "false", "csrf": "forged"},
    )
    assert forged.status_code == 403
