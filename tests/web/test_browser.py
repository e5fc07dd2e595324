"""In a real Chromium (Debian's, driven by Playwright): sign in with the second factor and see
only what the role allows."""

from __future__ import annotations

import pyotp
import pytest
from playwright.sync_api import Browser, Page

from haven.access.accounts import NewOrganisation, NewUser, create_organisation, create_user
from haven.crypto.fields import FieldCipher
from haven.domain.enums import ContributorKind, Role, Tlp
from haven.registry.schemas import IncidentIn
from haven.registry.writer import Actor, RegistryWriter
from haven.runtime import Runtime

PASSWORD = "correct horse battery staple"
SHARED = "Passport refused at the consulate"
STRICT = "Case kept within another organisation"
NARRATIVE = "The consul kept the passport of the reporter."


def _page(browser: Browser) -> Page:
    # Generous: a loaded two-core machine can take seconds to start a page.
    page = browser.new_page()
    page.set_default_timeout(60_000)
    return page


@pytest.fixture
def registry(runtime: Runtime, cipher: FieldCipher) -> None:
    with runtime.transaction() as session:
        ngo = create_organisation(
            session, cipher, NewOrganisation("Exile Legal Aid", ContributorKind.NGO), actor="t"
        )
        other = create_organisation(
            session, cipher, NewOrganisation("Other NGO", ContributorKind.NGO), actor="t"
        )
        for login, roles in (
            ("case@example.org", {Role.CASEWORKER}),
            ("analyst@example.org", {Role.ANALYST}),
        ):
            create_user(session, cipher, NewUser(ngo, login, PASSWORD, frozenset(roles)), actor="t")
        writer = RegistryWriter(session, cipher, Actor(other, "test"))
        for title, tlp in ((SHARED, Tlp.GREEN), (STRICT, Tlp.AMBER_STRICT)):
            data = {
                "title": title,
                "narrative": NARRATIVE,
                "occurred": {"start": "2024-06-01"},
                "origin_state": "BY",
                "host_state": "LT",
                "tactics": ["consular-misuse"],
                "tlp": tlp,
            }
            writer.add_incident(IncidentIn.model_validate(data))
        writer.flush()


def _sign_in(page: Page, base: str, login: str) -> None:
    page.goto(f"{base}/sign-in")
    page.fill("#login", login)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")


def test_a_caseworker_signs_in_with_a_second_factor_and_sees_what_the_label_allows(
    browser: Browser, live_server: str, registry: None
) -> None:
    page = _page(browser)
    _sign_in(page, live_server, "case@example.org")
    page.wait_for_url(f"{live_server}/account/second-factor")
    assert page.locator("img[alt^='QR code']").is_visible()
    seed = page.locator("#seed").inner_text()
    page.fill("#code", pyotp.TOTP(seed).now())
    page.click("button[type=submit]")
    assert page.locator("#recovery-codes li").count() == 10

    page.goto(f"{live_server}/incidents")
    table = page.locator("table").inner_text()
    assert SHARED in table
    assert NARRATIVE in table
    assert STRICT not in page.content()


def test_an_analyst_sees_the_shared_incident_but_no_narrative(
    browser: Browser, live_server: str, registry: None
) -> None:
    page = _page(browser)
    _sign_in(page, live_server, "analyst@example.org")
    page.wait_for_url(f"{live_server}/incidents")
    assert SHARED in page.locator("table").inner_text()
    assert NARRATIVE not in page.content()
    assert STRICT not in page.content()


def test_a_wrong_password_shows_a_plain_refusal(
    browser: Browser, live_server: str, registry: None
) -> None:
    page = _page(browser)
    page.goto(f"{live_server}/sign-in")
    page.fill("#login", "case@example.org")
    page.fill("#password", "not the password")
    page.click("button[type=submit]")
    assert page.locator("[role=alert]").inner_text() == "wrong login or password"
