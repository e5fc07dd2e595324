"""The public report form in a real Chromium (Debian's, driven by Playwright): a report with a
file in English and in Arabic, without JavaScript, the urgent path, a wrong receipt code, and
the conversation between a caseworker and the reporter through the follow-up page."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pyotp
import pytest
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page, expect

from haven.access.accounts import NewOrganisation, NewUser, create_organisation, create_user
from haven.crypto.fields import FieldCipher
from haven.domain.enums import ContributorKind, Role
from haven.i18n import translations
from haven.intake.receipts import new_receipt_code
from haven.intake.reports import set_intake_organisation
from haven.runtime import Runtime

PASSWORD = "correct horse battery staple"
NARRATIVE = "A man from the consulate photographed me outside the community centre."
CODE = re.compile(r"[0-9A-HJKMNP-TV-Z]{5}(-[0-9A-HJKMNP-TV-Z]{5}){3}")
REFUSAL = "We could not open a report with this code. Check the code and try again."


def _page(context: BrowserContext) -> Page:
    page = context.new_page()
    # Generous: a loaded two-core machine can take seconds to start a page.
    page.set_default_timeout(60_000)
    return page


@pytest.fixture
def intake(runtime: Runtime, cipher: FieldCipher) -> None:
    with runtime.transaction() as session:
        ngo = create_organisation(
            session, cipher, NewOrganisation("Exile Legal Aid", ContributorKind.NGO), actor="t"
        )
        create_user(
            session,
            cipher,
            NewUser(ngo, "case@example.org", PASSWORD, frozenset({Role.CASEWORKER})),
            actor="t",
        )
        set_intake_organisation(session, ngo, actor="test")


def _picture(directory: Path, name: str = "photo.jpg") -> Path:
    path = directory / name
    Image.new("RGB", (16, 12), (30, 90, 160)).save(path, "JPEG")
    return path


def _fill_report(page: Page, narrative: str = NARRATIVE, file: Path | None = None) -> None:
    """The answers that are needed: one tactic, what happened, the year, the origin country."""
    page.locator("input[name=tactics][value=surveillance]").check()
    page.fill("#what_happened", narrative)
    page.fill("input[name=year]", "2024")
    page.select_option("select[name=origin_state]", "BY")
    if file is not None:
        page.set_input_files("input[name=evidence]", str(file))


def _send(page: Page, button: str = "Send the report") -> None:
    page.get_by_role("button", name=button).click()
    page.wait_for_load_state()


def _receipt_code(page: Page) -> str:
    code = page.locator("#receipt-code").inner_text().strip()
    assert CODE.fullmatch(code), code
    return code


def test_a_report_with_a_picture_gets_a_receipt_code_and_the_files_fingerprint(
    context: BrowserContext, live_server: str, intake: None, tmp_path: Path
) -> None:
    picture = _picture(tmp_path)
    page = _page(context)
    page.goto(f"{live_server}/report")
    assert page.locator("html").get_attribute("lang") == "en"
    _fill_report(page, file=picture)
    _send(page)

    assert page.locator("h1").inner_text() == "Your report was received"
    _receipt_code(page)
    row = page.locator("table tbody tr")
    expect(row).to_have_count(1)
    assert row.locator("td").first.inner_text() == "photo.jpg"
    digest = hashlib.sha256(picture.read_bytes()).hexdigest()
    assert row.locator("td.digest").inner_text() == digest
    # Not urgent: no emergency advice on the receipt.
    assert page.locator(".emergency").count() == 0


def test_a_report_in_arabic_is_right_to_left_throughout(
    context: BrowserContext, live_server: str, intake: None, tmp_path: Path
) -> None:
    arabic = translations("ar").gettext
    button = arabic("Send the report")
    assert button != "Send the report"
    page = _page(context)
    page.goto(f"{live_server}/report?lang=ar")
    assert page.evaluate("document.documentElement.dir") == "rtl"
    assert page.evaluate("document.documentElement.lang") == "ar"
    assert page.locator("main form button[type=submit]").inner_text().strip() == button
    direction = page.evaluate("getComputedStyle(document.querySelector('main form')).direction")
    assert direction == "rtl"
    assert page.locator("select[name=origin_state] option[value=DE]").inner_text() == "ألمانيا"

    _fill_report(page, "رجل من القنصلية صوّرني أمام المركز.", _picture(tmp_path))
    _send(page, button)

    assert page.evaluate("document.documentElement.dir") == "rtl"
    assert page.evaluate("document.documentElement.lang") == "ar"
    assert page.locator("h1").inner_text() == arabic("Your report was received")
    _receipt_code(page)
    # The code and the fingerprint stay left to right inside the Arabic page.
    assert page.evaluate("getComputedStyle(document.getElementById('receipt-code')).direction") == (
        "ltr"
    )


def test_the_form_works_without_javascript(
    browser: Browser, live_server: str, intake: None, tmp_path: Path
) -> None:
    context = browser.new_context(java_script_enabled=False)
    try:
        page = _page(context)
        page.goto(f"{live_server}/report")
        _fill_report(page, file=_picture(tmp_path, "screenshot.jpg"))
        _send(page)
        assert page.locator("h1").inner_text() == "Your report was received"
        _receipt_code(page)
        assert page.locator("td").first.inner_text() == "screenshot.jpg"
        # Without JavaScript the page also shows an error beside a field, and keeps the rest.
        page.goto(f"{live_server}/report")
        page.fill("input[name=place]", "Vilnius")
        _send(page)
        assert page.locator("#tactics-error").is_visible()
        assert page.locator("input[name=place]").input_value() == "Vilnius"
    finally:
        context.close()


def _sign_in_caseworker(page: Page, base: str) -> None:
    page.goto(f"{base}/sign-in")
    page.fill("#login", "case@example.org")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/account/second-factor")
    seed = page.locator("#seed").inner_text()
    page.fill("#code", pyotp.TOTP(seed).now())
    page.click("button[type=submit]")
    expect(page.locator("#recovery-codes li")).to_have_count(10)


def test_a_caseworker_replies_and_the_reporter_answers_with_a_file(
    browser: Browser, context: BrowserContext, live_server: str, intake: None, tmp_path: Path
) -> None:
    reporter = _page(context)
    reporter.goto(f"{live_server}/report")
    _fill_report(reporter)
    _send(reporter)
    code = _receipt_code(reporter)

    office = browser.new_context()
    try:
        caseworker = _page(office)
        _sign_in_caseworker(caseworker, live_server)
        caseworker.goto(f"{live_server}/reports")
        rows = caseworker.locator("table tbody tr")
        expect(rows).to_have_count(1)
        rows.first.locator("a").click()
        caseworker.wait_for_url(re.compile(r"/reports/[^/]+$"))
        assert NARRATIVE in caseworker.locator(".narrative").inner_text()
        caseworker.fill("textarea[name=message]", "We have read your report. Are you safe?")
        caseworker.get_by_role("button", name="Send reply").click()
        expect(caseworker.locator(".messages li")).to_have_count(1)
    finally:
        office.close()

    fresh = browser.new_context()
    try:
        page = _page(fresh)
        page.goto(f"{live_server}/report/follow-up")
        page.fill("input[name=code]", code.lower().replace("-", " "))
        page.get_by_role("button", name="Open my report").click()
        page.wait_for_url(re.compile(r"/report/follow-up\?lang=en$"))
        reply = page.locator(".messages li.from-organisation .body")
        assert reply.inner_text() == "We have read your report. Are you safe?"
        assert page.locator("#report-status").get_attribute("data-status") == "received"

        document = tmp_path / "summons.pdf"
        document.write_bytes(b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n")
        page.fill("textarea[name=message]", "Yes. Here is the summons they sent.")
        page.set_input_files("input[name=evidence]", str(document))
        page.get_by_role("button", name="Send", exact=True).click()
        page.wait_for_url(re.compile(r"sent=1"))
        assert page.get_by_role("status").inner_text() == "Sent. Thank you."
        assert page.locator(".messages li.from-reporter .body").inner_text() == (
            "Yes. Here is the summons they sent."
        )
        files = page.locator("h2:has-text('Your files') + table tbody tr")
        expect(files).to_have_count(1)
        assert files.locator("td").first.inner_text() == "summons.pdf"
        digest = hashlib.sha256(document.read_bytes()).hexdigest()
        assert files.locator("td.digest").inner_text() == digest
    finally:
        fresh.close()


def test_a_wrong_receipt_code_reveals_nothing(
    context: BrowserContext, live_server: str, intake: None
) -> None:
    page = _page(context)
    page.goto(f"{live_server}/report")
    _fill_report(page)
    _send(page)
    _receipt_code(page)  # a report exists that a wrong code must not open

    answers = []
    for code in (new_receipt_code(), "'; drop table reports; --"):
        page.goto(f"{live_server}/report/follow-up")
        page.fill("input[name=code]", code)
        page.get_by_role("button", name="Open my report").click()
        page.wait_for_load_state()
        assert page.get_by_role("alert").inner_text() == REFUSAL
        assert page.locator("#report-status").count() == 0
        body = page.locator("body").inner_text()
        assert NARRATIVE not in body
        assert "Received." not in body
        assert page.locator("input[name=code]").input_value() == ""  # not even the code
        answers.append(body)
    assert answers[0] == answers[1]


def test_the_urgent_path_shows_the_danger_advice_without_script(
    context: BrowserContext, live_server: str, intake: None
) -> None:
    page = _page(context)
    page.goto(f"{live_server}/report")
    advice = page.locator(".danger-advice")
    expect(advice).to_be_hidden()
    page.locator("#danger-yes").check()
    expect(advice).to_be_visible()
    assert "Call 112" in advice.inner_text()
    page.get_by_label("No", exact=True).check()
    expect(advice).to_be_hidden()
    page.locator("#danger-yes").check()
    expect(advice).to_be_visible()

    _fill_report(page)
    _send(page)
    first = page.locator("main > *").first
    assert first.evaluate("e => e.tagName") == "ASIDE"
    assert first.get_attribute("class") == "emergency"
    assert first.inner_text().startswith("You said there is danger now.")
    assert first.is_visible()
    _receipt_code(page)
