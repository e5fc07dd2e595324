"""Casework in a real Chromium (Debian's, driven by Playwright): a caseworker triages and refers
a case; the authority's user acknowledges it and records an action; the reporter sees the
status change on the follow-up page."""

from __future__ import annotations

import re

import pyotp
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from haven.access.accounts import NewOrganisation, NewUser, create_organisation, create_user
from haven.crypto.fields import FieldCipher
from haven.domain.enums import ContributorKind, ReportStatus, Role
from haven.intake.reports import set_intake_organisation
from haven.runtime import Runtime
from haven.web.report_follow_up import STATUS_WORDS

PASSWORD = "correct horse battery staple"
NARRATIVE = "A man from the consulate followed me home from the community centre twice."
CODE = re.compile(r"[0-9A-HJKMNP-TV-Z]{5}(-[0-9A-HJKMNP-TV-Z]{5}){3}")


@pytest.fixture
def organisations(runtime: Runtime, cipher: FieldCipher) -> None:
    """An intake NGO and a German authority, each with a caseworker."""
    with runtime.transaction() as session:
        ngo = create_organisation(
            session, cipher, NewOrganisation("Exile Legal Aid", ContributorKind.NGO), actor="t"
        )
        authority = create_organisation(
            session,
            cipher,
            NewOrganisation("Bundeskriminalamt", ContributorKind.AUTHORITY, "DE"),
            actor="t",
        )
        for organisation, login in ((ngo, "case@ela.example"), (authority, "case@bka.example")):
            new = NewUser(organisation, login, PASSWORD, frozenset({Role.CASEWORKER}))
            create_user(session, cipher, new, actor="t")
        set_intake_organisation(session, ngo, actor="test")


def _page(context: BrowserContext) -> Page:
    page = context.new_page()
    page.set_default_timeout(60_000)
    return page


def _click(page: Page, button: str) -> None:
    page.get_by_role("button", name=button, exact=True).click()
    page.wait_for_load_state()


def _sign_in(page: Page, base: str, login: str) -> None:
    page.goto(f"{base}/sign-in")
    page.fill("#login", login)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/account/second-factor")
    seed = page.locator("#seed").inner_text()
    page.fill("#code", pyotp.TOTP(seed).now())
    page.click("button[type=submit]")
    expect(page.locator("#recovery-codes li")).to_have_count(10)


def test_a_case_is_triaged_referred_acknowledged_and_acted_on_and_the_reporter_sees_it(
    browser: Browser, live_server: str, organisations: None
) -> None:
    contexts: list[BrowserContext] = []

    def fresh() -> Page:
        context = browser.new_context()
        contexts.append(context)
        return _page(context)

    try:
        # The reporter: Germany, and consent to authorities (of Germany, where it happened).
        reporter = fresh()
        reporter.goto(f"{live_server}/report")
        reporter.locator("input[name=tactics][value=surveillance]").check()
        reporter.fill("#what_happened", NARRATIVE)
        reporter.fill("input[name=year]", "2024")
        reporter.select_option("select[name=origin_state]", "BY")
        reporter.select_option("select[name=host_state]", "DE")
        reporter.locator("input[name=consent][value=authority]").check()
        _click(reporter, "Send the report")
        code = reporter.locator("#receipt-code").inner_text().strip()
        assert CODE.fullmatch(code), code

        # The caseworker triages, verifies and refers it to the authority, asking for protection.
        office = fresh()
        _sign_in(office, live_server, "case@ela.example")
        office.goto(f"{live_server}/reports")
        rows = office.locator("table tbody tr")
        expect(rows).to_have_count(1)
        expect(office.locator("ul.inbox li")).to_have_count(1)
        rows.first.locator("a").click()
        office.wait_for_url(re.compile(r"/reports/[^/]+$"))
        case_url = office.url
        assert NARRATIVE in office.locator(".narrative").inner_text()
        _click(office, "Triage")
        expect(office.locator("#case-status")).to_have_text("triaged")
        _click(office, "Mark verified")
        expect(office.locator("#case-status")).to_have_text("verified")
        office.select_option(
            "select[name=organisation_id]", label="Bundeskriminalamt (authority, DE)"
        )
        office.locator("input[name=asks][value=protection]").check()
        _click(office, "Refer")
        expect(office.locator("#case-status")).to_have_text("referred")
        expect(office.locator("td.referral-status")).to_have_text("sent")
        timeline = office.locator("ol.timeline li")
        expect(timeline).to_have_count(3)
        assert "referral: verified → referred" in timeline.nth(2).inner_text()

        # The authority's caseworker acknowledges it and records protection measures.
        authority = fresh()
        _sign_in(authority, live_server, "case@bka.example")
        authority.goto(f"{live_server}/referrals")
        referrals = authority.locator("table tbody tr")
        expect(referrals).to_have_count(1)
        assert "protection" in referrals.first.inner_text()
        referrals.first.locator("a").click()
        authority.wait_for_url(re.compile(r"/referrals/[^/]+$"))
        expect(authority.locator("h1")).to_have_text("Referral from Exile Legal Aid")
        assert NARRATIVE in authority.locator(".narrative").inner_text()
        _click(authority, "Acknowledge receipt")
        expect(authority.locator("#referral-status")).to_have_text("acknowledged")
        authority.select_option("select[name=action]", "protection-measures")
        _click(authority, "Record action")
        expect(authority.locator("#referral-action")).to_have_text("protection-measures")
        expect(authority.locator("#referral-status")).to_have_text("action-recorded")

        office.goto(case_url)
        expect(office.locator("#case-status")).to_have_text("action-recorded")

        # The reporter, in a fresh browser, sees the change with the receipt code.
        follower = fresh()
        follower.goto(f"{live_server}/report/follow-up")
        follower.fill("input[name=code]", code)
        _click(follower, "Open my report")
        status = follower.locator("#report-status")
        expect(status).to_have_attribute("data-status", "action-recorded")
        expect(status).to_have_text(str(STATUS_WORDS[ReportStatus.ACTION_RECORDED]))
    finally:
        for context in contexts:
            context.close()
