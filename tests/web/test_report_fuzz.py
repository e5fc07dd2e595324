"""The public report form fuzzed: random values in every field, missing fields, repeated fields,
random consent, dates, countries and languages, posted as a browser would. No answer is a 5xx;
a refused report shows the form again with a message and the reporter's text kept, and stores
nothing; an accepted one gives a receipt and stores one report."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from haven.audit.models import AuditEntry
from haven.i18n import LANGUAGES, translations
from haven.intake.models import Report
from haven.intake.reports import set_intake_organisation
from haven.registry.models import Contributor
from haven.runtime import Runtime
from haven.web.app import create_app
from haven.web.limits import IntakeLimits

Cli = Callable[..., Any]

FUZZ = settings(
    database=None,
    deadline=None,
    max_examples=150,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
RESHOWN = "Some answers need another look; they are marked below."
HONEYPOT = "Please leave the field marked “leave empty” empty."
EXPIRED = (
    "This form had expired. Nothing was sent yet: please check what you entered and send it again."
)
# The fields a reporter types into, shown again as they were sent when the form is refused.
TEXT_FIELDS = (
    "target_name",
    "what_happened",
    "place",
    "perpetrator",
    "contact_address",
    "contact_precautions",
)
CHOICE_FIELDS = {
    "urgent": ["yes", "no", "", "maybe"],
    "relation": ["self", "relative", "colleague", "other", "", "mother", "SELF"],
    "target_profile": ["journalist", "activist", "", "spy", "Journalist"],
    "perpetrator_kind": ["state", "agency", "embassy", "proxy", "unknown", "", "aliens"],
    "contact_method": ["", "email", "phone", "messenger", "other", "pigeon"],
    "origin_state": ["BY", "RU", "CN", "TR", "by", "XX", "ZZ", "EU", "", "Russia", "RUS"],
    "host_state": ["LT", "DE", "FR", "", "XK", "UK", "ÄÄ", "12"],
}
TACTICS = ["consular-misuse", "surveillance", "harassment", "arrest-misuse", "poisoning", ""]
CONSENT = ["ngo", "authority", "eu-body", "company", "everyone", "", "NGO"]
LANGS = [*sorted(LANGUAGES), "xx", "", "en-US", "zh-CN", "../en", "e" * 40]

_ODD_TEXT = (
    "\x00",
    "a\x07b",
    "\x1b[2J",
    "\u202eevil\u202c",
    "שלום עולם",
    "مرحبا، ساعدني",
    "🙂👨‍👩‍👧",
    "\ufeffBOM",
    '<script>alert("x")</script>',
    "&amp; &lt;",
    'Aziza "Zizi" O\'Neil',
    "line one\nline two",
    "\u2028\u2029",
    " ",
    "=cmd|' /C calc'!A0",
)
TEXT = st.one_of(
    st.text(max_size=60),
    st.sampled_from(_ODD_TEXT),
    st.builds(
        lambda piece, times: piece * times,
        st.sampled_from(["a", "é", "🙂", "<", "\n"]),
        st.integers(150, 21_000),
    ),
)
NUMBERS = st.one_of(
    st.integers(-5, 3000).map(str),
    st.sampled_from(["", "2024", "2024-13-45", "13", "0", "٢٠٢٤", "1e3", " 2020 ", "9" * 5000]),
    st.text(max_size=6),
)


@dataclass(frozen=True)
class Submission:
    fields: list[tuple[str, str]]
    lang: str
    multipart: bool
    forged_csrf: bool

    def last(self, name: str) -> str | None:
        """The value the server reads for ``name``: the last one sent."""
        values = [value for key, value in self.fields if key == name]
        return values[-1] if values else None


_SAFE_TEXT = st.sampled_from(["", "Vilnius", 'Aziza "Zizi" O\'Neil & <family>', "שלום", "🙂"])
_PLAUSIBLE: dict[str, st.SearchStrategy[str]] = {
    "urgent": st.sampled_from(["yes", "no"]),
    "relation": st.sampled_from(["self", "relative", "colleague", "other"]),
    "target_profile": st.sampled_from(["journalist", "activist", ""]),
    "perpetrator_kind": st.sampled_from(["state", "agency", "embassy", "proxy", "unknown"]),
    "contact_method": st.just(""),
    "origin_state": st.sampled_from(["BY", "RU", "CN", "TR"]),
    "host_state": st.sampled_from(["LT", "DE", "FR", ""]),
    "what_happened": st.sampled_from(["They followed me home.", "مرحبا، ساعدني"]),
    "year": st.sampled_from(["2019", "2023"]),
    "month": st.sampled_from(["", "2", "11"]),
    "day": st.sampled_from(["", "1", "28"]),
    **dict.fromkeys(("target_name", "place", "perpetrator"), _SAFE_TEXT),
}


@st.composite
def submissions(draw: st.DrawFn) -> Submission:
    """About half plausible, with one field (or none) replaced by anything; the rest anything."""
    fields: list[tuple[str, str]] = []
    plausible = draw(st.booleans())
    spoiled = draw(st.sampled_from([None, *CHOICE_FIELDS, *TEXT_FIELDS, "year", "month", "day"]))

    def anything(name: str) -> st.SearchStrategy[str]:
        if name in CHOICE_FIELDS:
            return st.one_of(st.sampled_from(CHOICE_FIELDS[name]), st.text(max_size=10))
        return NUMBERS if name in ("year", "month", "day") else TEXT

    def add(name: str) -> None:
        if plausible and name != spoiled:
            if name in _PLAUSIBLE:
                fields.append((name, draw(_PLAUSIBLE[name])))
            return
        if draw(st.integers(0, 9)) == 0:
            return  # the field is missing
        for _ in range(draw(st.sampled_from([1, 1, 1, 1, 2]))):  # sent twice, now and then
            fields.append((name, draw(anything(name))))

    for name in (*CHOICE_FIELDS, *TEXT_FIELDS, "year", "month", "day"):
        add(name)
    tactics = st.sampled_from(TACTICS[:4] if plausible else TACTICS)
    fields.extend(("tactics", t) for t in draw(st.lists(tactics, min_size=plausible, max_size=3)))
    consent = st.sampled_from(CONSENT[:4] if plausible else CONSENT)
    fields.extend(("consent", kind) for kind in draw(st.lists(consent, max_size=3)))
    if draw(st.integers(0, 15)) == 0:
        fields.append(("website", draw(st.sampled_from(["x", "http://spam.example"]))))
    if draw(st.integers(0, 10)) == 0:
        fields.append((draw(st.sampled_from(["junk", "id", "report[year]"])), draw(TEXT)))
    if draw(st.integers(0, 10)) == 0:
        fields.append(("submission", draw(st.sampled_from(["", "short", "x" * 65, "!" * 20]))))
    return Submission(
        fields,
        draw(st.sampled_from(LANGS)),
        multipart=draw(st.booleans()),
        forged_csrf=draw(st.integers(0, 15)) == 0,
    )


# -- reading the answer ----------------------------------------------------------------------


class _Form(HTMLParser):
    """The values of the page's text inputs and text areas, as a browser would show them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.values: dict[str, str] = {}
        self._textarea: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "input" and a.get("type", "text") == "text" and a.get("name"):
            self.values[a["name"]] = a.get("value", "")
        elif tag == "textarea" and a.get("name"):
            self._textarea, self._text = a["name"], []

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea" and self._textarea is not None:
            # A text area drops one line break right after its start tag (HTML's rule).
            self.values[self._textarea] = "".join(self._text).removeprefix("\n")
            self._textarea = None


def _shown(html: str) -> dict[str, str]:
    parser = _Form()
    parser.feed(html)
    parser.close()
    return parser.values


def _hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, html[:500]
    return found.group(1)


@dataclass(frozen=True)
class Counts:
    reports: int
    audit: int


def _count(runtime: Runtime) -> Counts:
    with runtime.reading() as session:

        def rows(model: type) -> int:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)

        return Counts(rows(Report), rows(AuditEntry))


@pytest.fixture
def client(cli: Cli, runtime: Runtime) -> Iterator[TestClient]:
    """The application with an organisation that takes reports, and budgets no fuzzer uses up."""
    assert cli("orgs", "create", "Exile Legal Aid", "--kind", "ngo").code == 0
    with runtime.transaction() as session:
        ngo = session.scalar(select(Contributor.id).where(Contributor.name == "Exile Legal Aid"))
        assert ngo is not None
        set_intake_organisation(session, ngo, actor="test")
    with TestClient(create_app(runtime)) as client:
        client.app.state.intake_limits = IntakeLimits(  # type: ignore[attr-defined]
            reports_per_minute=100_000, evidence_bytes_per_hour=1024 * 1024
        )
        yield client


def _post(client: TestClient, sent: Submission) -> Any:
    page = client.get("/report", params={"lang": sent.lang})
    assert page.status_code == 200
    csrf = "forged" if sent.forged_csrf else _hidden(page.text, "csrf")
    fields = [("csrf", csrf), ("submission", _hidden(page.text, "submission")), *sent.fields]
    if sent.multipart:  # as a browser sends the form when a file field is on it, left empty
        return client.post(
            "/report",
            params={"lang": sent.lang},
            data=_as_dict(fields),
            files=[("evidence", ("", b"", "application/octet-stream"))],
        )
    return client.post("/report", params={"lang": sent.lang}, data=_as_dict(fields))


def _as_dict(fields: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Fields in the order sent, repeated ones as lists (how the test client sends them)."""
    grouped: dict[str, list[str]] = {}
    for name, value in fields:
        grouped.setdefault(name, []).append(value)
    return grouped


def _language(html: str) -> str:
    found = re.search(r'<html lang="([^"]+)"', html)
    assert found, html[:300]
    return found.group(1)


@FUZZ
@given(sent=submissions())
def test_any_submission_gets_a_receipt_or_the_form_again_with_the_text_kept(
    client: TestClient, runtime: Runtime, sent: Submission
) -> None:
    before = _count(runtime)
    answer = _post(client, sent)
    assert answer.status_code < 500, answer.text[:500]
    event(f"answered {answer.status_code}")
    words = translations(_language(answer.text)).gettext
    if answer.status_code == 200:
        assert re.search(r'id="receipt-code">[0-9A-Z-]{23}<', answer.text)
        assert _count(runtime).reports == before.reports + 1
        return
    assert answer.status_code in (403, 422), answer.status_code
    assert _count(runtime) == before
    if sent.forged_csrf:
        assert answer.status_code == 403
        notice = EXPIRED
    else:
        notice = HONEYPOT if sent.last("website") else RESHOWN
    assert words(notice) in html.unescape(answer.text)
    assert 'name="csrf"' in answer.text  # the form again, which can be sent
    shown = _shown(answer.text)
    for name in TEXT_FIELDS:
        assert shown.get(name) == (sent.last(name) or ""), name


def test_a_tactic_sent_twice_is_refused_with_a_message_not_a_server_error(
    client: TestClient, runtime: Runtime
) -> None:
    # Found by the fuzzer: the form took the report, and the incident it became refused it.
    fields = [
        ("what_happened", "They followed me home."),
        ("year", "2023"),
        ("origin_state", "RU"),
        ("tactics", "harassment"),
        ("tactics", "harassment"),
        ("place", "Vilnius"),
    ]
    before = _count(runtime)
    answer = _post(client, Submission(fields, "en", multipart=False, forged_csrf=False))
    assert answer.status_code == 422
    assert 'id="tactics-error"' in answer.text
    assert _shown(answer.text)["place"] == "Vilnius"
    assert _count(runtime) == before
