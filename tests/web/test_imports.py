"""The import page: every bad row listed with nothing imported, a good sheet imported in the
background behind a progress page, and the page kept to caseworkers and coordinators."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from haven.access.accounts import NewOrganisation, NewUser, create_organisation, create_user
from haven.access.models import User
from haven.crypto.fields import FieldCipher
from haven.domain.enums import ContributorKind, Role
from haven.registry.models import Incident
from haven.runtime import Runtime
from haven.web.app import create_app
from haven.web.imports import ImportJob

PASSWORD = "correct horse battery staple"
SEED = pyotp.random_base32()
HEADER = "Year,Origin Country,Host Country,Tactic,Target Profile,Host Country Involvement,Sources\n"
GOOD = (
    "2019,China,Turkey,Detention,Activist,yes,https://example.org/one\n"
    "2021,RU,DE,Assassination,journalist,active,\n"
    "2022,Tajikistan,Russia,spyware,,,\n"
)


@dataclass
class World:
    ngo: str
    other: str


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
            ("coordinator@example.org", other, {Role.COORDINATOR}),
            ("analyst@example.org", ngo, {Role.ANALYST}),
        ):
            user_id = create_user(
                session, cipher, NewUser(org, login, PASSWORD, frozenset(roles)), actor="t"
            )
            if Role.ANALYST not in roles:
                user = session.get(User, user_id)
                assert user is not None
                user.totp_secret = cipher.encrypt(SEED.encode(), f"users.totp_secret:{user_id}")
    return World(ngo, other)


@pytest.fixture
def client(runtime: Runtime, world: World) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as client:
        yield client


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]*)"', html)
    assert found is not None, html
    return found.group(1)


def _sign_in(client: TestClient, login: str) -> str:
    form = client.get("/sign-in")
    response = client.post(
        "/sign-in",
        data={"login": login, "password": PASSWORD, "csrf": _csrf(form.text)},
        follow_redirects=False,
    )
    location = str(response.headers.get("location"))
    if location != "/sign-in/second-factor":
        return location
    form = client.get("/sign-in/second-factor")
    response = client.post(
        "/sign-in/second-factor",
        data={"code": pyotp.TOTP(SEED).now(), "csrf": _csrf(form.text)},
        follow_redirects=False,
    )
    return str(response.headers.get("location"))


def _upload(client: TestClient, content: str, **fields: str) -> Any:
    page = client.get("/imports")
    assert page.status_code == 200
    return client.post(
        "/imports",
        data={"mapping": "freedom-house", "tlp": "amber", "csrf": _csrf(page.text), **fields},
        files={"file": ("incidents.csv", content.encode(), "text/csv")},
        follow_redirects=False,
    )


def _incidents(runtime: Runtime) -> int:
    with runtime.reading() as session:
        return int(session.scalar(select(func.count()).select_from(Incident)) or 0)


def _wait(client: TestClient, location: str) -> str:
    deadline = time.monotonic() + 30
    while True:
        page = client.get(location)
        assert page.status_code == 200, page.text
        if 'http-equiv="refresh"' not in page.text:
            return page.text
        assert "<progress" in page.text
        assert time.monotonic() < deadline, "the import did not finish"
        time.sleep(0.05)


def test_a_sheet_with_a_bad_row_lists_it_and_imports_nothing(
    client: TestClient, runtime: Runtime
) -> None:
    assert _sign_in(client, "case@example.org") == "/incidents"
    assert 'href="/imports"' in client.get("/incidents").text
    content = (
        HEADER
        + "2019,China,Turkey,Detention,Activist,yes,https://example.org/one\n"
        + "2020,Narnia,DE,Assault,journalist,,\n"
        + "2021,RU,DE,Poisoning,journalist,,\n"
    )
    response = _upload(client, content)
    assert response.status_code == 422
    text = response.text
    assert "Nothing was imported" in text
    assert "line 3: Origin Country: unknown country" in text
    assert "line 4: Tactic: unknown tactic" in text
    assert "2 problems in 2 of 3 rows" in text
    assert _incidents(runtime) == 0

    not_a_sheet = client.post(
        "/imports",
        data={"mapping": "freedom-house", "tlp": "amber", "csrf": _csrf(text)},
        files={"file": ("photo.csv", b"\x89PNG\r\n\x1a\n\x00\x00", "text/csv")},
    )
    assert not_a_sheet.status_code == 422
    assert "neither an XLSX workbook nor a CSV file" in not_a_sheet.text
    assert _incidents(runtime) == 0


def test_a_check_only_upload_imports_nothing(client: TestClient, runtime: Runtime) -> None:
    assert _sign_in(client, "case@example.org") == "/incidents"
    response = _upload(client, HEADER + GOOD, check_only="true")
    assert response.status_code == 200
    text = response.text
    assert "All 3 rows are good: 3 would be imported (0 already imported)" in text
    assert _incidents(runtime) == 0


def test_a_good_sheet_is_imported_behind_a_progress_page(
    client: TestClient, runtime: Runtime, world: World
) -> None:
    assert _sign_in(client, "case@example.org") == "/incidents"
    response = _upload(client, HEADER + GOOD, tlp="amber+strict")
    assert response.status_code == 303
    location = response.headers["location"]
    assert re.fullmatch(r"/imports/[A-Za-z0-9_-]{20,}", location)
    done = _wait(client, location)
    assert "Imported 3 incidents (0 already imported)" in done
    assert '<progress value="3" max="3">' in done
    with runtime.reading() as session:
        incidents = session.scalars(select(Incident)).all()
    assert len(incidents) == 3
    assert {incident.contributor_id for incident in incidents} == {world.ngo}
    assert {incident.tlp for incident in incidents} == {"amber+strict"}

    again = _upload(client, HEADER + GOOD)
    assert "Imported 0 incidents (3 already imported)" in _wait(client, again.headers["location"])
    assert _incidents(runtime) == 3

    # Another organisation's coordinator cannot see the import.
    with TestClient(client.app) as other:
        assert _sign_in(other, "coordinator@example.org") == "/incidents"
        assert other.get(location).status_code == 404
        assert other.get("/imports/not-a-job").status_code == 404


def test_an_analyst_is_refused(client: TestClient, runtime: Runtime) -> None:
    assert _sign_in(client, "analyst@example.org") == "/incidents"
    assert 'href="/imports"' not in client.get("/incidents").text
    assert client.get("/imports").status_code == 403
    refused = client.post(
        "/imports",
        data={"mapping": "freedom-house", "tlp": "amber", "csrf": "x"},
        files={"file": ("incidents.csv", (HEADER + GOOD).encode(), "text/csv")},
    )
    assert refused.status_code == 403
    assert "only caseworkers and coordinators" in refused.text
    assert _incidents(runtime) == 0


def test_signed_out_visitors_are_sent_to_sign_in(client: TestClient) -> None:
    response = client.get("/imports", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in"


def test_the_progress_page_refreshes_itself_until_the_import_ends(
    client: TestClient, world: World
) -> None:
    assert _sign_in(client, "case@example.org") == "/incidents"
    job = ImportJob("a-running-import", world.ngo, total=3)
    job.advance(1, 3)
    client.app.state.import_jobs = {job.id: job}  # type: ignore[attr-defined]
    running = client.get(f"/imports/{job.id}").text
    assert '<meta http-equiv="refresh" content="1">' in running
    assert '<progress value="1" max="3">' in running
    assert '1</span> of <span id="total">3</span> rows' in running
    job.fail("the database refused the operation; nothing was written")
    failed = client.get(f"/imports/{job.id}").text
    assert 'http-equiv="refresh"' not in failed
    assert "the database refused the operation; nothing was written" in failed
