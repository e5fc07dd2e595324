"""The public report form and the follow-up with a receipt code, through the application (no
browser): languages, what the page loads, bad input kept, file checks, body and rate limits, the
follow-up, and the caseworker's side."""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from tempfile import SpooledTemporaryFile
from typing import Any

import pyotp
import pytest
import starlette.formparsers
from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner
from PIL import Image
from sqlalchemy import func, select
from starlette.types import Message, Receive, Scope, Send

from haven.access.accounts import NewOrganisation, NewUser, create_organisation, create_user
from haven.access.models import Consent
from haven.audit.models import AuditEntry
from haven.crypto.fields import FieldCipher
from haven.domain.enums import ContributorKind, Role
from haven.i18n import LANGUAGES, translations
from haven.intake.models import Report, ReportMessage
from haven.intake.receipts import new_receipt_code
from haven.intake.reports import follow_up, set_intake_organisation
from haven.registry.models import Incident
from haven.registry.sealed import sealed_context
from haven.runtime import Runtime, open_runtime
from haven.settings import Settings
from haven.web.app import create_app
from haven.web.bodylimit import BodyLimit
from haven.web.limits import IntakeLimits
from haven.web.report import LANG_COOKIE
from haven.web.report_follow_up import FOLLOW_UP_COOKIE, FOLLOW_UP_MINUTES

PASSWORD = "correct horse battery staple"
NARRATIVE = "Two men from the embassy waited outside my flat and named my sister."
REFUSAL = "We could not open a report with this code. Check the code and try again."
RECEIVED = "Received. Nobody has read it yet."


@dataclass
class Intake:
    ngo: str
    other: str


@pytest.fixture
def intake(runtime: Runtime, cipher: FieldCipher) -> Intake:
    """An organisation that handles reports, another one, and their people."""
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
            ("case@other.example.org", other, {Role.CASEWORKER}),
        ):
            create_user(session, cipher, NewUser(org, login, PASSWORD, frozenset(roles)), actor="t")
        set_intake_organisation(session, ngo, actor="test")
    return Intake(ngo, other)


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as client:
        yield client


@pytest.fixture
def client_with(settings: Settings) -> Iterator[Callable[..., TestClient]]:
    """A client of an application whose settings differ from the test's in the given ways,
    against the same database and key file."""
    opened: list[tuple[Runtime, TestClient]] = []

    def build(**overrides: Any) -> TestClient:
        changed = Settings(
            data_dir=settings.data_dir,
            database_url=settings.database_url,
            key_file=settings.key_file,
            **overrides,
        )
        runtime = open_runtime(changed)
        client = TestClient(create_app(runtime))
        client.__enter__()
        opened.append((runtime, client))
        return client

    yield build
    for runtime, client in opened:
        client.__exit__(None, None, None)
        runtime.close()


# -- helpers ---------------------------------------------------------------------------------


class _Form(HTMLParser):
    """The values a browser would send from the page's report form: text inputs, text areas,
    selected options and ticked boxes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.values: dict[str, list[str]] = {}
        self._textarea: str | None = None
        self._select: str | None = None
        self._text: list[str] = []

    def _add(self, name: str, value: str) -> None:
        self.values.setdefault(name, []).append(value)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        name = a.get("name", "")
        if tag == "input" and name:
            kind = a.get("type", "text")
            if kind in ("radio", "checkbox"):
                if "checked" in a:
                    self._add(name, a.get("value", "on"))
            elif kind != "file":
                self._add(name, a.get("value", ""))
        elif tag == "textarea" and name:
            self._textarea, self._text = name, []
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select and "selected" in a:
            self._add(self._select, a.get("value", ""))

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea" and self._textarea is not None:
            self._add(self._textarea, "".join(self._text).removeprefix("\n"))
            self._textarea = None
        elif tag == "select":
            self._select = None


def form_values(html: str) -> dict[str, list[str]]:
    parser = _Form()
    parser.feed(html)
    return parser.values


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]*)"', html)
    assert found, html
    return found.group(1)


def _lang(html: str) -> str:
    found = re.search(r'<html lang="([^"]+)"', html)
    assert found, html[:300]
    return found.group(1)


def _report(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "urgent": "no",
        "relation": "self",
        "tactics": ["consular-misuse"],
        "what_happened": NARRATIVE,
        "year": "2024",
        "month": "",
        "day": "",
        "origin_state": "BY",
        "host_state": "LT",
        "perpetrator_kind": "embassy",
        "contact_method": "",
    }
    data.update(changes)
    return data


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 40, 40)).save(out, "JPEG")
    return out.getvalue()


def _submit(
    client: TestClient,
    data: dict[str, Any],
    files: list[tuple[str, tuple[str, bytes, str]]] | None = None,
    *,
    csrf: str | None = None,
    lang: str = "en",
) -> Any:
    form = client.get(f"/report?lang={lang}")
    assert form.status_code == 200
    token = _csrf(form.text) if csrf is None else csrf
    return client.post(f"/report?lang={lang}", data={**data, "csrf": token}, files=files)


def _code(html: str) -> str:
    found = re.search(r'id="receipt-code">([^<]+)<', html)
    assert found, html
    return found.group(1)


def _count(runtime: Runtime, model: type[Any]) -> int:
    with runtime.reading() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _sign_in(client: TestClient, login: str) -> None:
    form = client.get("/sign-in")
    client.post(
        "/sign-in", data={"login": login, "password": PASSWORD, "csrf": _csrf(form.text)}
    ).raise_for_status()


def _sign_in_caseworker(client: TestClient, login: str) -> None:
    _sign_in(client, login)
    page = client.get("/account/second-factor")
    seed = re.search(r'id="seed">([A-Z2-7]+)<', page.text)
    signed = re.search(r'name="seed" value="([^"]+)"', page.text)
    assert seed is not None
    assert signed is not None
    done = client.post(
        "/account/second-factor",
        data={
            "seed": signed.group(1),
            "code": pyotp.TOTP(seed.group(1)).now(),
            "csrf": _csrf(page.text),
        },
    )
    assert done.status_code == 200


# -- language --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("fr-CH, fr;q=0.9, en;q=0.8", "fr"),
        ("zh-CN", "zh-Hans"),
        ("xx", "en"),
        ("xx, de;q=0.1", "de"),
        ("en;q=0.5, it", "it"),
        ("", "en"),
    ],
)
def test_the_form_is_in_the_language_the_browser_asks_for(
    client: TestClient, accept: str, expected: str
) -> None:
    page = client.get("/report", headers={"Accept-Language": accept})
    assert page.status_code == 200
    assert _lang(page.text) == expected
    button = translations(expected).gettext("Send the report")
    assert f'<button type="submit">{button}</button>' in page.text
    assert f'dir="{LANGUAGES[expected].direction}"' in page.text


def test_a_chosen_language_is_kept_in_a_cookie_and_wins_over_the_browser(
    client: TestClient,
) -> None:
    chosen = client.get("/report?lang=de", headers={"Accept-Language": "fr"})
    assert _lang(chosen.text) == "de"
    cookie = chosen.headers["set-cookie"]
    assert f"{LANG_COOKIE}=de" in cookie
    assert "HttpOnly" in cookie
    later = client.get("/report", headers={"Accept-Language": "fr"})
    assert _lang(later.text) == "de"
    assert "Meldung senden" in later.text
    # The follow-up pages follow the same choice.
    assert _lang(client.get("/report/follow-up", headers={"Accept-Language": "fr"}).text) == "de"
    # An unknown ?lang= neither changes the page nor the cookie.
    unknown = client.get("/report?lang=xx")
    assert _lang(unknown.text) == "de"
    assert LANG_COOKIE not in unknown.headers.get("set-cookie", "")


@pytest.mark.parametrize(
    ("lang", "germany"), [("fr", "Allemagne"), ("ar", "ألمانيا"), ("de", "Deutschland")]
)
def test_country_names_are_in_the_readers_language(
    client: TestClient, lang: str, germany: str
) -> None:
    page = client.get(f"/report?lang={lang}")
    # Both the country behind it and the country where it happened.
    assert page.text.count(f'<option value="DE">{germany}</option>') == 2
    assert '<option value="DE">Germany</option>' not in page.text


# -- what the page is ------------------------------------------------------------------------


@pytest.mark.parametrize("lang", sorted(LANGUAGES))
def test_the_form_is_small_self_contained_and_not_cached(client: TestClient, lang: str) -> None:
    page = client.get(f"/report?lang={lang}")
    assert page.status_code == 200
    assert len(page.content) < 100 * 1024
    urls = re.findall(r'\b(?:src|href|action)\s*=\s*["\']?([^"\'\s>]*)', page.text)
    assert urls  # the pattern finds the page's links
    assert all(u.startswith("/") and not u.startswith("//") for u in urls), urls
    assert "http://" not in page.text
    assert "https://" not in page.text
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy.split(";")[0]
    assert "form-action 'self'" in policy
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"


# -- bad input keeps what was entered ----------------------------------------------------------

KEPT = {
    "target_name": 'Aziza "Zizi" O\'Neil & <family>',
    "place": "Vilnius, Žvėrynas",
    "contact_method": "email",
    "contact_address": "aziza@example.org",
    "contact_precautions": "Only after 18:00 <please>",
    "perpetrator": "A man who said he was from the consulate",
    "target_profile": "journalist",
    "month": "3",
    "day": "14",
    "consent": ["ngo", "eu-body"],
}


def _assert_kept(html: str, sent: dict[str, Any]) -> None:
    shown = form_values(html)
    for name, value in sent.items():
        expected = value if isinstance(value, list) else [value]
        assert shown.get(name) == expected, (name, shown.get(name))


def test_missing_answers_are_marked_and_everything_entered_is_kept(
    client: TestClient, intake: Intake, runtime: Runtime
) -> None:
    sent = _report(tactics=[], what_happened="", **KEPT)
    answer = _submit(client, sent)
    assert answer.status_code == 422
    assert "Some answers need another look" in answer.text
    # Each reason sits next to its field.
    tactics = re.search(r'<p class="error" id="tactics-error">([^<]+)</p>', answer.text)
    narrative = re.search(
        r'<p class="error" id="what_happened-error">([^<]+)</p>\s*<textarea id="what_happened"',
        answer.text,
    )
    assert tactics is not None
    assert tactics.group(1) == "Please choose at least one thing that happened."
    assert narrative is not None
    assert narrative.group(1) == "Please tell us what happened."
    assert 'aria-describedby="tactics-error"' in answer.text
    assert 'id="origin_state-error"' not in answer.text  # only what is wrong is marked
    _assert_kept(answer.text, {k: v for k, v in sent.items() if k not in ("tactics",)})
    assert "tactics" not in form_values(answer.text)
    assert _count(runtime, Report) == 0


def test_errors_are_in_the_readers_language(client: TestClient, intake: Intake) -> None:
    answer = _submit(client, _report(what_happened="", place="Lyon"), lang="fr")
    assert answer.status_code == 422
    words = translations("fr").gettext("Please tell us what happened.")
    assert words != "Please tell us what happened."
    assert f'id="what_happened-error">{words}<' in answer.text
    _assert_kept(answer.text, {"place": "Lyon"})


def test_a_filled_honeypot_is_refused_with_the_values_kept(
    client: TestClient, intake: Intake, runtime: Runtime
) -> None:
    sent = _report(**KEPT)
    answer = _submit(client, {**sent, "website": "http://spam.example"})
    assert answer.status_code == 422
    assert "leave empty" in answer.text
    _assert_kept(answer.text, sent)
    assert "spam.example" not in answer.text
    assert _count(runtime, Report) == 0


def test_a_wrong_csrf_token_is_refused_with_the_values_kept(
    client: TestClient, intake: Intake, runtime: Runtime
) -> None:
    sent = _report(**KEPT)
    answer = _submit(client, sent, csrf="forged-token")
    assert answer.status_code == 403
    assert "This form had expired. Nothing was sent yet" in answer.text
    _assert_kept(answer.text, sent)
    assert _count(runtime, Report) == 0
    # The form it shows again carries a token that works.
    again = client.post("/report", data={**sent, "csrf": _csrf(answer.text)})
    assert again.status_code == 200
    assert _count(runtime, Report) == 1


# -- files -----------------------------------------------------------------------------------


def test_a_report_with_a_picture_gets_a_receipt_with_its_fingerprint(
    client: TestClient, intake: Intake, runtime: Runtime
) -> None:
    import hashlib

    picture = _jpeg()
    answer = _submit(client, _report(), [("evidence", ("flat.jpg", picture, "image/jpeg"))])
    assert answer.status_code == 200
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{5}(-[0-9A-HJKMNP-TV-Z]{5}){3}", _code(answer.text))
    assert f'<td class="digest">{hashlib.sha256(picture).hexdigest()}</td>' in answer.text
    assert _count(runtime, Report) == 1


def test_an_oversized_file_is_refused_and_nothing_is_stored(
    client_with: Callable[..., TestClient], intake: Intake, runtime: Runtime
) -> None:
    client = client_with(max_file_mb=1)
    big = b"\xff\xd8\xff" + b"\0" * (1024 * 1024 - 2)  # 1 MB and one byte
    sent = _report(place="Kaunas")
    answer = _submit(client, sent, [("evidence", ("big.jpg", big, "image/jpeg"))])
    assert answer.status_code == 422
    assert "big.jpg is too large: a file may be at most 1 MB." in answer.text
    assert "please choose them again" in answer.text
    _assert_kept(answer.text, {"place": "Kaunas", "what_happened": NARRATIVE})
    assert _count(runtime, Report) == 0
    # Exactly at the limit is accepted.
    fits = _jpeg() + b"\0" * (1024 * 1024 - len(_jpeg()))
    assert _submit(client, sent, [("evidence", ("fits.jpg", fits, "image/jpeg"))]).status_code == (
        200
    )


def test_uploads_are_closed_once_answered(
    client: TestClient, intake: Intake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each upload is spooled to a temporary file (on disk past 1 MB); it is closed when the
    answer is given, not left open until the garbage collector finds it."""
    spooled: list[SpooledTemporaryFile[bytes]] = []

    class Recorded(SpooledTemporaryFile[bytes]):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            spooled.append(self)

    monkeypatch.setattr(starlette.formparsers, "SpooledTemporaryFile", Recorded)
    large = _jpeg() + b"\0" * (1024 * 1024)
    answer = _submit(client, _report(), [("evidence", ("large.jpg", large, "image/jpeg"))])
    assert answer.status_code == 200
    refused = _submit(client, _report(), [("evidence", ("x.jpg", b"%PDF-1.4", "image/jpeg"))])
    assert refused.status_code == 422
    page = client.get(_open(client, _code(answer.text)).headers["location"])
    sent = client.post(
        "/report/follow-up/message",
        data={"message": "one more", "csrf": _csrf(page.text)},
        files=[("evidence", ("more.jpg", large, "image/jpeg"))],
        follow_redirects=False,
    )
    assert sent.status_code == 303
    assert len(spooled) == 3
    assert [f.closed for f in spooled] == [True, True, True]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "does not contain what its name"),
        (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff", "is not a kind of file we accept"),
    ],
    ids=["pdf-named-jpg", "program-named-jpg"],
)
def test_a_disguised_file_is_refused_by_name_and_nothing_is_stored(
    client: TestClient, intake: Intake, runtime: Runtime, content: bytes, reason: str
) -> None:
    answer = _submit(client, _report(), [("evidence", ("photo.jpg", content, "image/jpeg"))])
    assert answer.status_code == 422
    assert f"photo.jpg {reason}" in answer.text
    assert _count(runtime, Report) == 0
    evidence = runtime.settings.resolved_evidence_dir
    assert not evidence.exists() or not any(p.is_file() for p in evidence.rglob("*"))


@pytest.mark.parametrize("extra", [1, 2, 45])
def test_too_many_files_are_refused_with_the_values_kept(
    client: TestClient, intake: Intake, runtime: Runtime, settings: Settings, extra: int
) -> None:
    count = settings.max_files + extra
    files = [("evidence", (f"p{n}.jpg", _jpeg(), "image/jpeg")) for n in range(count)]
    words = f"Please send at most {settings.max_files} files at a time."
    answer = _submit(client, _report(place="Riga"), files)
    assert answer.status_code == 422
    assert words in answer.text
    _assert_kept(answer.text, {"place": "Riga", "what_happened": NARRATIVE})
    assert _count(runtime, Report) == 0
    # The same on the follow-up page, where the message written is kept.
    code = _code(_submit(client, _report()).text)
    page = client.get(_open(client, code).headers["location"])
    sent = client.post(
        "/report/follow-up/message",
        data={"message": "Pictures of the car", "csrf": _csrf(page.text)},
        files=files,
    )
    assert sent.status_code == 422
    assert words in sent.text
    assert form_values(sent.text)["message"] == ["Pictures of the car"]
    assert _count(runtime, ReportMessage) == 0


def _content_for(name: str) -> bytes:
    """Content of the kind the name says, so only the name is on trial."""
    if name.endswith(".pdf"):
        return b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n"
    if name.endswith(".jpg"):
        return _jpeg()
    if name.endswith(".png"):
        out = io.BytesIO()
        Image.new("RGB", (8, 8), (40, 40, 200)).save(out, "PNG")
        return out.getvalue()
    return b"Transcript of the call.\n"


def _receipt_files(html: str) -> list[tuple[str, str]]:
    rows = re.findall(r'<tr><td>([^<]*)</td><td class="digest">([0-9a-f]{64})</td></tr>', html)
    return [(unescape(name), digest) for name, digest in rows]


# A browser sends a NUL or a line break in a file's name as %00 or %0A (HTML's form encoding),
# and no file at all for an empty name; what arrives is kept as it came, once made safe.
@pytest.mark.parametrize(
    ("name", "kept"),
    [
        pytest.param("a\x00b.pdf", "a%00b.pdf", id="nul"),
        pytest.param("a\nb.jpg", "a%0Ab.jpg", id="line-break"),
        pytest.param("x" * 300 + ".png", "x" * 251 + ".png", id="long"),
        pytest.param("\u202eexe.txt", "exe.txt", id="right-to-left-override"),
        pytest.param("../../etc/passwd", "passwd", id="path"),
        pytest.param("…" * 200, "…" * 85, id="multibyte"),
    ],
)
def test_a_file_with_an_awkward_name_is_kept_under_a_safe_one_with_the_report(
    client: TestClient, intake: Intake, runtime: Runtime, name: str, kept: str
) -> None:
    content = _content_for(name)
    answer = _submit(client, _report(), [("evidence", (name, content, "text/plain"))])

    assert answer.status_code == 200, answer.text[:300]
    assert _receipt_files(answer.text) == [(kept, hashlib.sha256(content).hexdigest())]
    assert _stored_report(runtime) == (NARRATIVE, [kept])


def _stored_report(runtime: Runtime) -> tuple[str, list[str]]:
    """The one report's narrative and its files' names, as the registry holds them."""
    cipher = runtime.cipher()
    with runtime.reading() as session:
        report = session.scalars(select(Report)).one()
        case = follow_up(session, cipher, report)
        incident = session.get(Incident, report.incident_id)
        assert incident is not None
        assert incident.narrative is not None
        context = sealed_context("incidents", "narrative", incident.id)
        narrative = cipher.decrypt(incident.narrative, context).decode()
        return narrative, sorted(view.filename for view in case.files)


def _multipart(fields: dict[str, Any], files: list[tuple[bytes, bytes]]) -> tuple[bytes, str]:
    """A form body written by hand, as a client other than a browser may send it: the file
    names go as raw bytes, control characters and all."""
    boundary = "haven-test-boundary-5f1c"
    parts = []
    for field, value in fields.items():
        for one in value if isinstance(value, list) else [value]:
            head = f'Content-Disposition: form-data; name="{field}"'
            parts.append(f"--{boundary}\r\n{head}\r\n\r\n{one}\r\n".encode())
    for filename, content in files:
        disposition = b'form-data; name="evidence"; filename="' + filename + b'"'
        parts.append(
            f"--{boundary}\r\n".encode()
            + b"Content-Disposition: "
            + disposition
            + b"\r\nContent-Type: application/octet-stream\r\n\r\n"
            + content
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def test_raw_control_characters_in_file_names_never_lose_the_report(
    client: TestClient, intake: Intake, runtime: Runtime
) -> None:
    sent = {
        b"a\x00b.pdf": "ab.pdf",
        b"tab\there\x1b[31m\x7f.txt": "tab here[31m.txt",
        "\u202eexe\u2066.txt".encode(): "exe.txt",
        b"": "file",
        b"a\nb.jpg": "a b.jpg",
    }
    files = [(raw, _content_for(kept)) for raw, kept in sent.items()]
    form = client.get("/report")
    body, content_type = _multipart({**_report(), "csrf": _csrf(form.text)}, files)

    answer = client.post("/report", content=body, headers={"content-type": content_type})

    assert answer.status_code == 200, answer.text[:300]
    assert [name for name, _ in _receipt_files(answer.text)] == list(sent.values())
    assert _stored_report(runtime) == (NARRATIVE, sorted(sent.values()))


def test_a_body_over_the_cap_is_refused_with_a_short_message(
    client_with: Callable[..., TestClient], intake: Intake, runtime: Runtime
) -> None:
    client = client_with(max_file_mb=1, max_files=1)  # a cap of 1 x 1 MB + 2 MB
    cap = 3 * 1024 * 1024
    form = client.get("/report")
    token = _csrf(form.text)
    answer = client.post(
        "/report",
        data={**_report(), "csrf": token},
        files=[("evidence", ("big.jpg", b"\xff\xd8\xff" + b"\0" * cap, "image/jpeg"))],
    )
    assert answer.status_code == 413
    assert answer.headers["content-type"].startswith("text/html")
    assert len(answer.content) < 400
    # (bodylimit.py capitalises the sentence, which lower-cases "MB"; reported.)
    assert "larger than 3 mb" in answer.text.lower()
    assert "Go back to keep what you wrote" in answer.text
    assert _count(runtime, Report) == 0
    # Under the cap the same form is read and answered by the application.
    small = client.post(
        "/report",
        data={**_report(), "csrf": token},
        files=[("evidence", ("small.jpg", _jpeg(), "image/jpeg"))],
    )
    assert small.status_code == 200


def _asgi_post(limit: int, chunks: list[bytes], declared: int | None) -> tuple[int, int, bool]:
    """Drive BodyLimit with a body in chunks: (status, chunks read, whether the app ran)."""
    read = 0
    reached = False

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal reached
        reached = True
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def receive() -> Message:
        nonlocal read
        read += 1
        return {"type": "http.request", "body": chunks[read - 1], "more_body": read < len(chunks)}

    statuses: list[int] = []

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    headers = [] if declared is None else [(b"content-length", str(declared).encode())]
    scope: Scope = {"type": "http", "method": "POST", "path": "/report", "headers": headers}
    asyncio.run(BodyLimit(app, lambda _path: limit)(scope, receive, send))
    return statuses[0], read, reached


def test_the_body_limit_refuses_before_the_body_is_read() -> None:
    chunks = [b"x" * 1000] * 10
    # A declared length over the cap: nothing is read and the application never runs.
    assert _asgi_post(5000, chunks, declared=10_000) == (413, 0, False)
    # No declared length: reading stops at the first chunk over the cap.
    assert _asgi_post(5000, chunks, declared=None) == (413, 6, True)
    assert _asgi_post(10_000, chunks, declared=None)[0] == 200


# -- budgets and set-up ----------------------------------------------------------------------


def test_reports_over_the_budget_get_429_with_the_values_kept(
    client: TestClient, intake: Intake, runtime: Runtime
) -> None:
    client.app.state.intake_limits = IntakeLimits(  # type: ignore[attr-defined]
        reports_per_minute=1, evidence_bytes_per_hour=10 * 1024 * 1024
    )
    assert _submit(client, _report()).status_code == 200
    sent = _report(**KEPT)
    answer = _submit(client, sent)
    assert answer.status_code == 429
    assert "Please wait a minute and send it again; nothing you entered was lost." in answer.text
    _assert_kept(answer.text, sent)
    assert _count(runtime, Report) == 1


def test_without_an_intake_organisation_the_form_says_so_and_keeps_the_values(
    client: TestClient, runtime: Runtime
) -> None:
    sent = _report(**KEPT)
    answer = _submit(client, sent)
    assert answer.status_code == 503
    assert "This service is not taking reports yet." in answer.text
    _assert_kept(answer.text, sent)
    assert _count(runtime, Report) == 0


# -- follow-up -------------------------------------------------------------------------------


def _open(client: TestClient, code: str, lang: str = "en") -> Any:
    form = client.get(f"/report/follow-up?lang={lang}")
    return client.post(
        f"/report/follow-up?lang={lang}",
        data={"code": code, "csrf": _csrf(form.text)},
        follow_redirects=False,
    )


def test_a_wrong_or_malformed_code_gets_the_same_plain_refusal(
    client: TestClient, intake: Intake
) -> None:
    _submit(client, _report()).raise_for_status()
    wrong = _open(client, new_receipt_code())
    malformed = _open(client, "not a code <b>at all</b>")
    assert wrong.status_code == malformed.status_code == 404
    assert REFUSAL in wrong.text
    assert wrong.text == malformed.text  # nothing tells the two apart
    assert RECEIVED not in wrong.text
    assert NARRATIVE not in wrong.text
    assert FOLLOW_UP_COOKIE not in wrong.headers.get("set-cookie", "")


def test_the_refusal_is_in_the_readers_language(client: TestClient, intake: Intake) -> None:
    wrong = _open(client, new_receipt_code(), lang="ar")
    assert wrong.status_code == 404
    assert translations("ar").gettext(REFUSAL) in wrong.text


def test_the_code_as_typed_opens_the_follow_up_page(
    client: TestClient, intake: Intake, runtime: Runtime
) -> None:
    code = _code(_submit(client, _report()).text)
    typed = " ".join(code.replace("-", "").lower()[i : i + 4] for i in range(0, 20, 4))
    opened = _open(client, f"  {typed} ")
    assert opened.status_code == 303
    assert opened.headers["location"] == "/report/follow-up?lang=en"
    cookie = opened.headers["set-cookie"]
    assert cookie.startswith(f"{FOLLOW_UP_COOKIE}=")
    assert "HttpOnly" in cookie
    assert "Path=/report" in cookie
    page = client.get(opened.headers["location"])
    assert page.status_code == 200
    assert f'<dd id="report-status" data-status="received">{RECEIVED}</dd>' in page.text
    assert "No messages yet." in page.text
    assert code not in page.text  # the code is shown once, on the receipt


def test_consent_changed_on_the_follow_up_page_is_recorded_and_leave_forgets_the_code(
    client: TestClient, intake: Intake, runtime: Runtime
) -> None:
    code = _code(_submit(client, _report(host_state="DE")).text)
    page = client.get(_open(client, code).headers["location"])
    saved = client.post(
        "/report/follow-up/consent?lang=en",
        data={"consent": ["ngo", "authority"], "csrf": _csrf(page.text)},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    page = client.get(saved.headers["location"])
    assert "Your choices were saved." in page.text
    assert form_values(page.text)["consent"] == ["ngo", "authority"]
    with runtime.reading() as session:
        granted = {
            (c.recipient_kind, c.member_state)
            for c in session.scalars(select(Consent).where(Consent.granted.is_(True)))
        }
    assert granted == {("ngo", ""), ("authority", "DE")}

    left = client.post("/report/follow-up/leave?lang=en", follow_redirects=False)
    assert left.status_code == 303
    assert re.search(rf'{FOLLOW_UP_COOKIE}=""; .*Max-Age=0', left.headers["set-cookie"])
    after = client.get(left.headers["location"])
    assert 'name="code"' in after.text
    assert RECEIVED not in after.text


def test_a_message_from_the_follow_up_page_reaches_the_report(
    client: TestClient, intake: Intake, runtime: Runtime
) -> None:
    code = _code(_submit(client, _report()).text)
    page = client.get(_open(client, code).headers["location"])
    sent = client.post(
        "/report/follow-up/message?lang=en",
        data={"message": "They came back today.", "csrf": _csrf(page.text)},
        follow_redirects=False,
    )
    assert sent.status_code == 303
    page = client.get(sent.headers["location"])
    assert "Sent. Thank you." in page.text
    assert '<p class="body">They came back today.</p>' in page.text
    empty = client.post(
        "/report/follow-up/message?lang=en", data={"message": "  ", "csrf": _csrf(page.text)}
    )
    assert empty.status_code == 422
    assert "Please write a message or add a file." in empty.text
    assert _count(runtime, ReportMessage) == 1


def _signed_long_ago(secret: str, value: str) -> str:
    class Past(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - FOLLOW_UP_MINUTES * 60 - 5

    return Past(secret, salt="haven report follow-up").sign(value).decode()


@pytest.mark.parametrize("kind", ["expired", "forged"])
def test_an_expired_or_forged_follow_up_cookie_leads_back_to_the_code_form(
    client: TestClient, intake: Intake, runtime: Runtime, settings: Settings, kind: str
) -> None:
    _submit(client, _report()).raise_for_status()
    with runtime.reading() as session:
        report_id = session.scalars(select(Report.id)).one()
    # The same report's cookie, fresh, opens it: only the age or the signature differs below.
    fresh = TimestampSigner(settings.secret_key, salt="haven report follow-up").sign(report_id)
    client.cookies.set(FOLLOW_UP_COOKIE, fresh.decode(), path="/report")
    assert RECEIVED in client.get("/report/follow-up").text
    if kind == "expired":
        value = _signed_long_ago(settings.secret_key, report_id)
    else:
        forger = TimestampSigner("another secret", salt="haven report follow-up")
        value = forger.sign(report_id).decode()
    client.cookies.clear()
    client.cookies.set(FOLLOW_UP_COOKIE, value, path="/report")
    page = client.get("/report/follow-up")
    assert page.status_code == 200
    assert 'name="code"' in page.text
    assert RECEIVED not in page.text
    sent = client.post(
        "/report/follow-up/message",
        data={"message": "hello", "csrf": _csrf(page.text)},
        follow_redirects=False,
    )
    assert sent.status_code == 303
    assert sent.headers["location"] == "/report/follow-up?lang=en&expired=1"
    assert _count(runtime, ReportMessage) == 0
    back = client.get(sent.headers["location"])
    assert "This form had expired. Please enter your code again." in back.text


# -- the caseworker's side -------------------------------------------------------------------


def test_an_analyst_cannot_open_the_reports(
    client: TestClient, intake: Intake, runtime: Runtime
) -> None:
    _submit(client, _report()).raise_for_status()
    with runtime.reading() as session:
        report_id = session.scalars(select(Report.id)).one()
    client.cookies.clear()
    _sign_in(client, "analyst@example.org")
    assert client.get("/reports").status_code == 403
    page = client.get(f"/reports/{report_id}")
    assert page.status_code == 403
    assert NARRATIVE not in page.text


def test_a_caseworker_of_another_organisation_cannot_find_the_report(
    client: TestClient, intake: Intake, runtime: Runtime
) -> None:
    _submit(client, _report()).raise_for_status()
    with runtime.reading() as session:
        report_id = session.scalars(select(Report.id)).one()
    client.cookies.clear()
    _sign_in_caseworker(client, "case@other.example.org")
    listing = client.get("/reports")
    assert listing.status_code == 200
    assert report_id not in listing.text
    page = client.get(f"/reports/{report_id}")
    assert page.status_code == 404
    assert NARRATIVE not in page.text
    assert client.get(f"/reports/{report_id}/files/{report_id}").status_code == 404


def test_reading_a_report_is_written_to_the_audit_log(
    client: TestClient, intake: Intake, runtime: Runtime
) -> None:
    _submit(client, _report(target_name="Aziza K.")).raise_for_status()
    with runtime.reading() as session:
        report = session.scalars(select(Report)).one()
        report_id, incident_id, person_id = report.id, report.incident_id, report.person_id
    client.cookies.clear()
    _sign_in_caseworker(client, "case@example.org")

    def reads() -> set[tuple[str, str]]:
        with runtime.reading() as session:
            rows = session.execute(
                select(AuditEntry.entity, AuditEntry.entity_id).where(AuditEntry.action == "read")
            )
            return {(entity, entity_id) for entity, entity_id in rows}

    listing = client.get("/reports")
    assert listing.status_code == 200
    assert f'href="/reports/{report_id}"' in listing.text
    assert reads() == set()  # the list shows nothing sealed
    page = client.get(f"/reports/{report_id}")
    assert page.status_code == 200
    assert NARRATIVE in page.text
    assert "Aziza K." in page.text
    assert reads() == {
        ("reports", report_id),
        ("incidents", incident_id),
        ("people", person_id),
    }
    with runtime.reading() as session:
        actors = set(session.scalars(select(AuditEntry.actor).where(AuditEntry.action == "read")))
    assert len(actors) == 1
    assert next(iter(actors)).startswith("user:")


def test_a_caseworker_reply_is_read_with_the_receipt_code(
    runtime: Runtime, intake: Intake, tmp_path: Path
) -> None:
    app = create_app(runtime)
    with TestClient(app) as reporter, TestClient(app) as caseworker:
        code = _code(_submit(reporter, _report()).text)
        _sign_in_caseworker(caseworker, "case@example.org")
        with runtime.reading() as session:
            report_id = session.scalars(select(Report.id)).one()
        page = caseworker.get(f"/reports/{report_id}")
        token = re.findall(r'name="csrf" value="([^"]*)"', page.text)[-1]
        forged = caseworker.post(
            f"/reports/{report_id}/reply", data={"message": "x", "csrf": "forged"}
        )
        assert forged.status_code == 403
        replied = caseworker.post(
            f"/reports/{report_id}/reply",
            data={"message": "We have read your report.", "csrf": token},
            follow_redirects=False,
        )
        assert replied.status_code == 303
        view = reporter.get(_open(reporter, code).headers["location"])
        assert '<li class="from-organisation"><p class="who">The caseworker · ' in view.text
        assert '<p class="body">We have read your report.</p>' in view.text
