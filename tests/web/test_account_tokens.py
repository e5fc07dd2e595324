"""The account page lists the visitor's API tokens by their names, which are stored sealed."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
from fastapi.testclient import TestClient

from haven.access.accounts import (
    NewOrganisation,
    NewUser,
    TokenRequest,
    create_organisation,
    create_token,
    create_user,
)
from haven.access.models import User
from haven.domain.enums import ContributorKind, Role
from haven.runtime import Runtime
from haven.web.app import create_app

PASSWORD = "correct horse battery staple"
SEED = pyotp.random_base32()
NAME = "Nightingale Legal partnership feed"


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]*)"', html)
    assert found is not None
    return found.group(1)


def test_the_account_page_shows_each_tokens_name(runtime: Runtime) -> None:
    cipher = runtime.cipher()
    with runtime.transaction() as session:
        new = NewOrganisation("Exile Legal Aid", ContributorKind.NGO)
        organisation_id = create_organisation(session, cipher, new, actor="t")
        login = "cw@example.org"
        user = NewUser(organisation_id, login, PASSWORD, frozenset({Role.CASEWORKER}))
        user_id = create_user(session, cipher, user, actor="t")
        stored = session.get(User, user_id)
        assert stored is not None
        stored.totp_secret = cipher.encrypt(SEED.encode(), f"users.totp_secret:{user_id}")
        request = TokenRequest(user_id, NAME, frozenset({"read"}), timedelta(days=30))
        create_token(session, cipher, request, actor="t")
    with TestClient(create_app(runtime)) as client:
        form = client.get("/sign-in")
        data = {"login": login, "password": PASSWORD, "csrf": _csrf(form.text)}
        assert client.post("/sign-in", data=data, follow_redirects=False).status_code == 303
        factor = client.get("/sign-in/second-factor")
        code = {"code": pyotp.TOTP(SEED).now(), "csrf": _csrf(factor.text)}
        assert (
            client.post("/sign-in/second-factor", data=code, follow_redirects=False).status_code
            == 303
        )
        page = client.get("/account")
    assert page.status_code == 200
    assert f"<td>{NAME}</td>" in page.text
