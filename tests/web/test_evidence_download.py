"""Evidence downloads from a report's page: the clean copy or the original, never shown as a
page (their own sandbox policy survives the site's headers), saved under the file's name."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from urllib.parse import unquote

import pikepdf
import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from haven.access.accounts import NewOrganisation, NewUser, create_organisation, create_user
from haven.crypto.fields import FieldCipher
from haven.domain.enums import ContributorKind, Role
from haven.intake.models import Report
from haven.intake.reports import FileView, report_files, set_intake_organisation
from haven.runtime import Runtime
from haven.web.app import SECURITY_HEADERS, create_app

PASSWORD = "correct horse battery staple"
CASEWORKER = "case@example.org"
AUTHOR = "Leyla Haddad-Ortiz"
# Cyrillic, a percent sign and an apostrophe: each needs care in a Content-Disposition header.
PDF_NAME = "Повестка №7 (100%) l'avis.pdf"
SITE_POLICY = SECURITY_HEADERS["Content-Security-Policy"]


def _pdf_by(author: str) -> bytes:
    with pikepdf.new() as pdf:
        pdf.add_blank_page()
        pdf.docinfo["/Author"] = author
        out = io.BytesIO()
        pdf.save(out, compress_streams=False)
        return out.getvalue()


@pytest.fixture
def client(runtime: Runtime, cipher: FieldCipher) -> Iterator[TestClient]:
    with runtime.transaction() as session:
        ngo = create_organisation(
            session, cipher, NewOrganisation("Exile Legal Aid", ContributorKind.NGO), actor="t"
        )
        new = NewUser(ngo, CASEWORKER, PASSWORD, frozenset({Role.CASEWORKER}))
        create_user(session, cipher, new, actor="t")
        set_intake_organisation(session, ngo, actor="t")
    with TestClient(create_app(runtime)) as client:
        yield client


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]*)"', html)
    assert found, html
    return found.group(1)


def _report_with(client: TestClient, files: list[tuple[str, bytes]]) -> None:
    form = client.get("/report")
    data = {
        "relation": "self",
        "tactics": ["consular-misuse"],
        "what_happened": "The consulate sent a summons for my brother.",
        "year": "2024",
        "origin_state": "BY",
        "csrf": _csrf(form.text),
    }
    upload = [("evidence", (name, content, "application/octet-stream")) for name, content in files]
    client.post("/report", data=data, files=upload).raise_for_status()
    client.cookies.clear()


def _sign_in_caseworker(client: TestClient) -> None:
    form = client.get("/sign-in")
    client.post(
        "/sign-in", data={"login": CASEWORKER, "password": PASSWORD, "csrf": _csrf(form.text)}
    ).raise_for_status()
    page = client.get("/account/second-factor")
    seed = re.search(r'id="seed">([A-Z2-7]+)<', page.text)
    signed = re.search(r'name="seed" value="([^"]+)"', page.text)
    assert seed is not None
    assert signed is not None
    client.post(
        "/account/second-factor",
        data={
            "seed": signed.group(1),
            "code": pyotp.TOTP(seed.group(1)).now(),
            "csrf": _csrf(page.text),
        },
    ).raise_for_status()


def _files(runtime: Runtime) -> tuple[str, dict[str, FileView]]:
    with runtime.reading() as session:
        report_id = session.scalars(select(Report.id)).one()
        views = report_files(session, runtime.cipher(), report_id)
    return report_id, {view.filename: view for view in views}


# RFC 5987's attr-char: what may stand unencoded in an extended parameter's value.
_EXTENDED = re.compile(r"filename\*=UTF-8''((?:[A-Za-z0-9!#$&+\-.^_`|~]|%[0-9A-F]{2})+)$")


def _saved_as(disposition: str) -> str:
    """The name a browser saves the file under: ``filename*`` wins over ``filename`` (RFC 6266
    section 4.3), and must be well formed."""
    found = _EXTENDED.search(disposition)
    assert found, disposition
    return unquote(found.group(1), errors="strict")


def test_a_download_keeps_its_sandbox_and_is_saved_under_its_name(
    client: TestClient, runtime: Runtime
) -> None:
    original = _pdf_by(AUTHOR)
    _report_with(client, [(PDF_NAME, original)])
    report_id, files = _files(runtime)
    _sign_in_caseworker(client)

    answer = client.get(f"/reports/{report_id}/files/{files[PDF_NAME].evidence_id}")

    assert answer.status_code == 200
    policies = answer.headers.get_list("content-security-policy")
    # Both are enforced: the download's own, and the site's, which cannot widen it.
    assert "sandbox; default-src 'none'" in policies
    assert SITE_POLICY in policies
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["content-type"] == "application/pdf"
    disposition = answer.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert _saved_as(disposition) == PDF_NAME
    plain = re.search(r'filename="([^"]*)"', disposition)
    assert plain is not None
    assert plain.group(1).isascii()
    assert "%" not in plain.group(1)
    assert plain.group(1).endswith(".pdf")
    # The clean copy, by default: the author is gone.
    assert answer.content.startswith(b"%PDF-")
    assert AUTHOR.encode() not in answer.content


def test_the_original_is_sent_as_it_came_with_the_same_headers(
    client: TestClient, runtime: Runtime
) -> None:
    original = _pdf_by(AUTHOR)
    _report_with(client, [("summons.pdf", original), ("notes.txt", b"<script>alert(1)</script>")])
    report_id, files = _files(runtime)
    _sign_in_caseworker(client)

    pdf = client.get(f"/reports/{report_id}/files/{files['summons.pdf'].evidence_id}?copy=original")
    # A text file has no clean copy: the original is what there is.
    text = client.get(f"/reports/{report_id}/files/{files['notes.txt'].evidence_id}")

    assert pdf.content == original
    assert text.content == b"<script>alert(1)</script>"
    for answer, name in ((pdf, "summons.pdf"), (text, "notes.txt")):
        assert "sandbox; default-src 'none'" in answer.headers.get_list("content-security-policy")
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["content-disposition"] == (
            f"attachment; filename=\"{name}\"; filename*=UTF-8''{name}"
        )


def test_pages_keep_the_one_site_policy(client: TestClient, runtime: Runtime) -> None:
    _report_with(client, [])
    report_id, _ = _files(runtime)
    _sign_in_caseworker(client)

    for path in ("/report", f"/reports/{report_id}"):
        assert client.get(path).headers.get_list("content-security-policy") == [SITE_POLICY]
