"""Sign-in with the second factor, lock-out, CSRF, limits behind a proxy, and what each role's
pages show."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from ipaddress import ip_network

import pyotp
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import select

from haven.access.accounts import (
    NewOrganisation,
    NewUser,
    create_organisation,
    create_user,
    login_index,
)
from haven.access.models import User
from haven.access.signin import MAX_FAILURES
from haven.crypto.fields import FieldCipher
from haven.db.values import utcnow
from haven.domain.enums import ContributorKind, Role, Tlp
from haven.registry.schemas import IncidentIn
from haven.registry.writer import Actor, RegistryWriter
from haven.runtime import Runtime, open_runtime
from haven.settings import Settings
from haven.web.app import create_app
from haven.web.limits import SignInLimits

PASSWORD = "correct horse battery staple"


@dataclass
class World:
    ngo: str
    other: str
    visible_title: str = "Summons of the parents of a journalist"
    hidden_title: str = "Strictly internal case of another organisation"


@pytest.fixture
def world(runtime: Runtime, cipher: FieldCipher) -> World:
    with runtime.transaction() as session:
        ngo = create_organisation(
            session, cipher, NewOrganisation("Exile Legal Aid", ContributorKind.NGO), actor="t"
        )
        other = create_organisation(
            session, cipher, NewOrganisation("Other NGO", ContributorKind.NGO), actor="t"
        )
        for login, org, roles in (
            ("case@example.org", ngo, {Role.CASEWORKER}),
            ("analyst@example.org", ngo, {Role.ANALYST}),
            ("admin@example.org", ngo, {Role.ADMINISTRATOR}),
        ):
            create_user(session, cipher, NewUser(org, login, PASSWORD, frozenset(roles)), actor="t")
        built = World(ngo, other)
        for org, title, tlp in (
            (other, built.visible_title, Tlp.GREEN),
            (other, built.hidden_title, Tlp.AMBER_STRICT),
        ):
            writer = RegistryWriter(session, cipher, Actor(org, "test"))
            writer.add_incident(
                IncidentIn.model_validate(
                    {
                        "title": title,
                        "narrative": "The named person was threatened.",
                        "occurred": {"start": "2024-03-01"},
                        "origin_state": "TJ",
                        "host_state": "PL",
                        "tactics": ["coercion-by-proxy"],
                        "tlp": tlp,
                    }
                )
            )
            writer.flush()
    return built


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as client:
        yield client


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]*)"', html)
    assert found, html
    return found.group(1)


def _sign_in(client: TestClient, login: str, password: str = PASSWORD) -> Response:
    form = client.get("/sign-in")
    return client.post(
        "/sign-in",
        data={"login": login, "password": password, "csrf": _csrf(form.text)},
        follow_redirects=False,
    )


def _enrol(client: TestClient) -> tuple[pyotp.TOTP, list[str]]:
    page = client.get("/account/second-factor")
    assert page.status_code == 200
    assert 'src="data:image/svg+xml;base64,' in page.text
    seed = re.search(r'id="seed">([A-Z2-7]+)<', page.text)
    signed = re.search(r'name="seed" value="([^"]+)"', page.text)
    assert seed is not None
    assert signed is not None
    totp = pyotp.TOTP(seed.group(1))
    wrong = client.post(
        "/account/second-factor",
        data={
            "seed": signed.group(1),
            "code": "000000" if totp.now() != "000000" else "111111",
            "csrf": _csrf(page.text),
        },
    )
    assert wrong.status_code == 401
    assert "does not match" in wrong.text
    done = client.post(
        "/account/second-factor",
        data={"seed": signed.group(1), "code": totp.now(), "csrf": _csrf(page.text)},
    )
    assert done.status_code == 200
    codes = re.findall(r"<li>([a-z]{10})</li>", done.text)
    assert len(codes) == 10
    return totp, codes


def test_a_caseworker_must_set_up_a_second_factor_then_sees_what_the_label_allows(
    client: TestClient, world: World
) -> None:
    response = _sign_in(client, "case@example.org")
    assert response.status_code == 303
    assert response.headers["location"] == "/account/second-factor"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    # Until the second factor is set up, nothing else opens.
    assert client.get("/incidents", follow_redirects=False).headers["location"] == (
        "/account/second-factor"
    )
    _enrol(client)

    page = client.get("/incidents")
    assert page.status_code == 200
    assert world.visible_title in page.text
    assert "The named person was threatened." in page.text
    assert world.hidden_title not in page.text


def test_an_analyst_signs_in_without_a_second_factor_and_never_sees_narratives(
    client: TestClient, world: World
) -> None:
    response = _sign_in(client, "analyst@example.org")
    assert response.headers["location"] == "/incidents"
    page = client.get("/incidents")
    assert world.visible_title in page.text
    assert "The named person was threatened." not in page.text


def test_the_second_factor_is_asked_at_every_sign_in_and_codes_work_once(
    client: TestClient, world: World
) -> None:
    _sign_in(client, "case@example.org")
    totp, codes = _enrol(client)
    page = client.get("/incidents")
    client.post("/sign-out", data={"csrf": _csrf(page.text)})
    assert client.get("/incidents", follow_redirects=False).headers["location"] == "/sign-in"

    assert _sign_in(client, "case@example.org").headers["location"] == "/sign-in/second-factor"
    form = client.get("/sign-in/second-factor")
    replay = client.post(
        "/sign-in/second-factor", data={"code": totp.now(), "csrf": _csrf(form.text)}
    )
    assert replay.status_code == 401
    assert "wrong or was already used" in replay.text
    recovered = client.post(
        "/sign-in/second-factor",
        data={"code": codes[0], "csrf": _csrf(form.text)},
        follow_redirects=False,
    )
    assert recovered.headers["location"] == "/incidents"

    page = client.get("/incidents")
    client.post("/sign-out", data={"csrf": _csrf(page.text)})
    _sign_in(client, "case@example.org")
    form = client.get("/sign-in/second-factor")
    again = client.post("/sign-in/second-factor", data={"code": codes[0], "csrf": _csrf(form.text)})
    assert again.status_code == 401


def test_a_wrong_password_and_an_unknown_login_get_the_same_answer(
    client: TestClient, world: World
) -> None:
    wrong = _sign_in(client, "case@example.org", "not the password at all")
    unknown = _sign_in(client, "nobody@example.org", "not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    assert "wrong login or password" in wrong.text
    assert "wrong login or password" in unknown.text


def test_repeated_failures_lock_the_account_with_a_clear_message(
    client: TestClient, world: World
) -> None:
    for _ in range(MAX_FAILURES):
        assert _sign_in(client, "analyst@example.org", "wrong password!").status_code == 401
    locked = _sign_in(client, "analyst@example.org")
    assert locked.status_code == 401
    assert "locked" in locked.text
    assert "try again in 15 minutes" in locked.text


def test_a_forged_csrf_token_is_refused(client: TestClient, world: World) -> None:
    client.get("/sign-in")
    forged = client.post(
        "/sign-in", data={"login": "analyst@example.org", "password": PASSWORD, "csrf": "forged"}
    )
    assert forged.status_code == 403
    assert "did not come from Haven" in forged.text
    # Signed in, a form without the session's token is refused too.
    _sign_in(client, "analyst@example.org")
    assert client.post("/sign-out", data={"csrf": "forged"}).status_code == 403


def test_an_administrator_ends_another_users_sessions(runtime: Runtime, world: World) -> None:
    app = create_app(runtime)
    with TestClient(app) as admin, TestClient(app) as analyst:
        _sign_in(analyst, "analyst@example.org")
        assert analyst.get("/incidents").status_code == 200
        assert _sign_in(admin, "admin@example.org").headers["location"] == (
            "/account/second-factor"
        )
        _enrol(admin)
        page = admin.get("/admin/users")
        assert page.status_code == 200
        assert "analyst@example.org" in page.text
        ids = re.findall(r'action="/admin/users/([^/]+)/revoke-sessions"', page.text)
        assert ids
        logins = re.findall(r"<tr><td>([^<]+)</td>", page.text)
        analyst_id = ids[logins.index("analyst@example.org")]
        admin.post(f"/admin/users/{analyst_id}/revoke-sessions", data={"csrf": _csrf(page.text)})
        assert analyst.get("/incidents", follow_redirects=False).headers["location"] == "/sign-in"
    with TestClient(app) as other:
        _sign_in(other, "analyst@example.org")  # an analyst is not an administrator
        assert other.get("/admin/users").status_code == 403


def test_a_flood_of_sign_in_attempts_is_slowed_down(client: TestClient, world: World) -> None:
    answers = [
        _sign_in(client, f"nobody{n}@example.org", "wrong password!").status_code for n in range(21)
    ]
    assert answers[:20] == [401] * 20
    assert answers[20] == 429


def test_a_password_alone_cannot_replace_an_existing_second_factor(
    client: TestClient, world: World
) -> None:
    _sign_in(client, "case@example.org")
    _enrol(client)
    page = client.get("/incidents")
    client.post("/sign-out", data={"csrf": _csrf(page.text)})
    # Signed in with the password only: the enrolment page sends back to the second factor.
    assert _sign_in(client, "case@example.org").headers["location"] == "/sign-in/second-factor"
    detour = client.get("/account/second-factor", follow_redirects=False)
    assert detour.headers["location"] == "/sign-in/second-factor"
    forged = client.post(
        "/account/second-factor",
        data={"seed": "x", "code": "123456", "csrf": "x"},
        follow_redirects=False,
    )
    assert forged.headers.get("location") == "/sign-in/second-factor" or forged.status_code == 403
    assert client.get("/incidents", follow_redirects=False).headers["location"] == (
        "/sign-in/second-factor"
    )


def test_an_unknown_login_locks_like_a_real_one(client: TestClient, world: World) -> None:
    for login in ("analyst@example.org", "nobody@example.org"):
        for _ in range(MAX_FAILURES):
            _sign_in(client, login, "wrong password!")
    real = _sign_in(client, "analyst@example.org", "wrong password!")
    unknown = _sign_in(client, "nobody@example.org", "wrong password!")
    assert real.status_code == unknown.status_code == 401
    assert "locked" in real.text
    assert "locked" in unknown.text


def _right_code(totp: pyotp.TOTP) -> str:
    """The next time step's code: accepted (a step of drift is allowed), and never the step
    that enrolment used up."""
    return totp.at(time.time() + totp.interval)


def _wrong_code(totp: pyotp.TOTP) -> str:
    now = time.time()
    taken = {totp.at(now + drift * totp.interval) for drift in (-1, 0, 1, 2)}
    return next(c for c in ("000000", "111111", "222222", "333333", "444444") if c not in taken)


def _give_code(client: TestClient, code: str) -> Response:
    form = client.get("/sign-in/second-factor")
    return client.post(
        "/sign-in/second-factor",
        data={"code": code, "csrf": _csrf(form.text)},
        follow_redirects=False,
    )


def _enrolled(client: TestClient) -> pyotp.TOTP:
    _sign_in(client, "case@example.org")
    totp, _ = _enrol(client)
    page = client.get("/incidents")
    client.post("/sign-out", data={"csrf": _csrf(page.text)})
    return totp


def _end_lock_out(runtime: Runtime, login: str) -> None:
    with runtime.transaction() as session:
        user = session.scalars(select(User).where(User.login_index == _index(runtime, login))).one()
        assert user.locked_until is not None
        user.locked_until = utcnow() - timedelta(seconds=1)


def _index(runtime: Runtime, login: str) -> str:
    return login_index(runtime.cipher(), login)


def test_a_correct_password_between_wrong_codes_does_not_lift_the_lock_out(
    runtime: Runtime, client: TestClient, world: World
) -> None:
    totp = _enrolled(client)
    codes = []
    for _ in range(4):
        _sign_in(client, "case@example.org")  # refused once locked; the pending session stays
        codes += [_give_code(client, _wrong_code(totp)).status_code for _ in range(4)]
    assert codes == [401] * 16
    refused = _give_code(client, _right_code(totp))
    assert refused.status_code == 401
    assert "locked" in refused.text
    assert client.get("/incidents", follow_redirects=False).headers["location"] == (
        "/sign-in/second-factor"
    )
    locked = _sign_in(client, "case@example.org")
    assert locked.status_code == 401
    assert "locked" in locked.text

    _end_lock_out(runtime, "case@example.org")
    assert _sign_in(client, "case@example.org").headers["location"] == "/sign-in/second-factor"
    accepted = _give_code(client, _right_code(totp))
    assert accepted.headers["location"] == "/incidents"
    assert client.get("/incidents").status_code == 200


def test_wrong_codes_given_to_two_processes_add_up(runtime: Runtime, world: World) -> None:
    with TestClient(create_app(runtime)) as first, TestClient(create_app(runtime)) as second:
        totp = _enrolled(first)
        for client, wrong in ((first, 3), (second, 2)):
            assert _sign_in(client, "case@example.org").status_code == 303
            for _ in range(wrong):
                assert _give_code(client, _wrong_code(totp)).status_code == 401
        for client in (first, second):
            refused = _give_code(client, _right_code(totp))
            assert refused.status_code == 401
            assert "locked" in refused.text


def test_a_flood_of_second_factor_codes_is_slowed_down(client: TestClient, world: World) -> None:
    totp = _enrolled(client)
    _sign_in(client, "case@example.org")
    answers = [_give_code(client, _wrong_code(totp)).status_code for _ in range(21)]
    assert answers[:20] == [401] * 20
    assert answers[20] == 429


PROXY = "10.0.0.7"
BUDGET = 3  # sign-in attempts per connection and minute in the tests below


@pytest.fixture
def behind_proxy(settings: Settings) -> Iterator[Runtime]:
    """Haven configured to believe X-Forwarded-For from the proxy at PROXY (and a second hop in
    10.1.0.0/16) only."""
    networks = (ip_network(PROXY), ip_network("10.1.0.0/16"))
    proxied = open_runtime(settings.model_copy(update={"trusted_proxies": networks}))
    yield proxied
    proxied.close()


def _small_budget(runtime: Runtime) -> FastAPI:
    app = create_app(runtime)
    app.state.sign_in_limits = SignInLimits(per_connection=BUDGET)
    return app


def _flood(
    client: TestClient, forwarded_for: str | None = None, times: int = BUDGET + 1
) -> list[int]:
    """Wrong passwords, each for a login of its own (no lock-out applies)."""
    headers = {} if forwarded_for is None else {"X-Forwarded-For": forwarded_for}
    answers = []
    for n in range(times):
        form = client.get("/sign-in")
        answers.append(
            client.post(
                "/sign-in",
                data={"login": f"nobody{n}@example.org", "password": "x", "csrf": _csrf(form.text)},
                headers=headers,
            ).status_code
        )
    return answers


SLOWED = [401] * BUDGET + [429]


def test_clients_behind_one_trusted_proxy_have_budgets_of_their_own(
    behind_proxy: Runtime, world: World
) -> None:
    with TestClient(_small_budget(behind_proxy), client=(PROXY, 40000)) as proxy:
        assert _flood(proxy, "203.0.113.1") == SLOWED
        # Another client through the same proxy has its whole budget, and so has one behind a
        # second trusted hop; what the client wrote left of the hops proves nothing.
        assert _flood(proxy, "203.0.113.2") == SLOWED
        assert _flood(proxy, "198.51.100.9, 203.0.113.3, 10.1.2.3") == SLOWED
        assert _flood(proxy, "203.0.113.3", times=1) == [429]
        assert _flood(proxy, "198.51.100.10, 203.0.113.1, 10.1.2.3", times=1) == [429]


def test_a_forged_forwarded_for_from_an_untrusted_peer_is_ignored(
    behind_proxy: Runtime, world: World
) -> None:
    app = _small_budget(behind_proxy)
    with TestClient(app, client=("192.0.2.50", 40000)) as stranger:
        answers = [_flood(stranger, f"203.0.113.{n}", times=1)[0] for n in range(BUDGET + 1)]
        assert answers == SLOWED
    # A forged header naming the proxy itself does not help either.
    with TestClient(app, client=("192.0.2.51", 40000)) as stranger:
        assert _flood(stranger, PROXY) == SLOWED


def test_without_trusted_proxies_forwarded_for_is_never_believed(
    runtime: Runtime, world: World
) -> None:
    with TestClient(_small_budget(runtime), client=(PROXY, 40000)) as proxy:
        assert _flood(proxy, "203.0.113.1") == SLOWED
        assert _flood(proxy, "203.0.113.2", times=1) == [429]
