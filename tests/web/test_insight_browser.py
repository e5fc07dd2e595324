"""In a real Chromium: the dashboard and the open statistics draw their charts, with no script."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from haven.access.accounts import NewOrganisation, NewUser, create_organisation, create_user
from haven.crypto.fields import FieldCipher
from haven.domain.enums import ContributorKind, Role
from haven.insight.releases import Publisher, make_release
from haven.registry.schemas import IncidentIn
from haven.registry.writer import Actor, RegistryWriter
from haven.runtime import Runtime

PASSWORD = "correct horse battery staple"


@pytest.fixture
def manual_releases(monkeypatch: pytest.MonkeyPatch) -> None:
    """The server's worker makes no release of its own: the test makes the one it shows."""
    monkeypatch.setenv("HAVEN_OPEN_RELEASES", "manual")


@pytest.fixture
def registry(runtime: Runtime, cipher: FieldCipher) -> None:
    with runtime.transaction() as session:
        ngo = create_organisation(
            session, cipher, NewOrganisation("Exile Legal Aid", ContributorKind.NGO), actor="t"
        )
        create_user(
            session,
            cipher,
            NewUser(ngo, "analyst@example.org", PASSWORD, frozenset({Role.ANALYST})),
            actor="t",
        )
        writer = RegistryWriter(session, cipher, Actor(ngo, "test"))
        for index in range(24):
            data: dict[str, Any] = {
                "title": f"Incident {index}",
                "occurred": {"start": f"{2020 + index % 3}-06-01"},
                "origin_state": "CN" if index % 2 else "RU",
                "host_state": "DE",
                "tactics": ["surveillance"],
                "tlp": "clear",
                "status": "verified",
            }
            writer.add_incident(IncidentIn.model_validate(data))
        writer.flush()
    with runtime.transaction() as session:
        make_release(session, Publisher.of(runtime.settings, cipher, "test:release"))


def _charts_drawn(page: Page) -> list[int]:
    """The drawn width of every chart image (0 for one the browser could not draw)."""
    widths: list[int] = page.eval_on_selector_all(
        "img.chart", "images => images.map(image => image.complete ? image.naturalWidth : 0)"
    )
    return widths


def test_the_dashboard_and_open_statistics_draw_their_charts(
    browser: Browser, manual_releases: None, live_server: str, registry: None
) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{live_server}/sign-in")
    page.fill("#login", "analyst@example.org")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/incidents")

    page.click("text=Figures")
    page.wait_for_url(f"{live_server}/insight")
    assert "24" in page.locator(".headline").inner_text()
    widths = _charts_drawn(page)
    assert len(widths) == 9  # every figure but targets by profile, which has no data
    assert all(width > 100 for width in widths)
    page.locator("#figure-origin summary").click()
    table = page.locator("#figure-origin table").inner_text()
    assert "China" in table
    assert "Russia" in table

    page.goto(f"{live_server}/insight?from=2021&to=2021")
    assert "8" in page.locator(".headline").inner_text()

    page.click("text=Open statistics")
    page.wait_for_url(f"{live_server}/open")
    assert "These figures are the release of" in page.locator(".release").inner_text()
    widths = _charts_drawn(page)
    assert len(widths) == 9
    assert all(width > 100 for width in widths)
    assert page.locator("#methods").is_visible()
    with page.expect_download() as download:
        page.locator("#figure-year a[download]").click()
    assert download.value.suggested_filename == "haven-open-year.csv"
    context.close()
