"""The public report form keeps nothing about the reporter's connection: no address, no browser,
on any table, nor in the database file or the evidence directory."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

import haven.models  # noqa: F401  (every table in the metadata)
from haven.domain.enums import ContributorKind, ReportChannel
from haven.intake.models import Report, ReportMessage
from haven.intake.reports import set_intake_organisation
from haven.registry.contributors import ensure_contributor
from haven.registry.models import Evidence
from haven.runtime import Runtime
from haven.settings import Settings
from haven.web.app import create_app

AGENT = "HavenProbeAgent/9.9"
FORWARDED = "203.0.113.77"
CONNECTION = {
    "User-Agent": AGENT,
    "X-Forwarded-For": FORWARDED,
    "X-Real-IP": FORWARDED,
    "Forwarded": f"for={FORWARDED}",
}
# What the connection could leave behind: TestClient's peer is "testclient"; a real server's
# would be 127.0.0.1.
TRACES = ("testclient", "HavenProbeAgent", FORWARDED, "203.0.113", "127.0.0.1")
TARGET = "Oksana Vereshchak-Lindqvist"
FORM = {
    "website": "",
    "urgent": "yes",
    "relation": "self",
    "target_name": TARGET,
    "target_profile": "journalist",
    "tactics": ["intimidation", "surveillance"],
    "what_happened": "A man photographed my flat every evening for a week.",
    "year": "2024",
    "month": "3",
    "day": "14",
    "origin_state": "RU",
    "host_state": "FI",
    "place": "Tampere",
    "perpetrator_kind": "agency",
    "perpetrator": "Someone from the embassy",
    "contact_method": "messenger",
    "contact_address": "@oksana_safe",
    "contact_precautions": "Signal only",
    "consent": ["ngo", "authority"],
}


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None, "no CSRF token on the page"
    return html.unescape(found.group(1))


def test_a_report_from_the_form_keeps_no_address_or_browser(
    runtime: Runtime,
    settings: Settings,
    database_url: str,
    dialect: str,
    dump_tables: Callable[[Session], str],
) -> None:
    cipher = runtime.cipher()
    with runtime.transaction() as session:
        intake = ensure_contributor(
            session, cipher, "Exile Legal Aid", ContributorKind.NGO, "DE", actor="test"
        )
        set_intake_organisation(session, intake, actor="test")
    notes = b"Licence plate seen twice, written down the same evening.\n"

    with TestClient(create_app(runtime), headers=CONNECTION) as client:
        form_page = client.get("/report")
        assert form_page.status_code == 200
        sent = client.post(
            "/report",
            data={**FORM, "csrf": _csrf(form_page.text)},
            files=[("evidence", ("notes.txt", notes, "text/plain"))],
        )
        assert sent.status_code == 200, sent.text
        found = re.search(r'id="receipt-code">([^<]+)<', sent.text)
        assert found is not None
        code = found.group(1).strip()

        # The follow-up too: open it with the code and send a message.
        code_page = client.get("/report/follow-up")
        opened = client.post(
            "/report/follow-up",
            data={"csrf": _csrf(code_page.text), "code": code},
            follow_redirects=False,
        )
        assert opened.status_code == 303, opened.text
        follow_page = client.get("/report/follow-up")
        assert follow_page.status_code == 200
        answered = client.post(
            "/report/follow-up/message",
            data={"csrf": _csrf(follow_page.text), "message": "They came back on Friday."},
            follow_redirects=False,
        )
        assert answered.status_code == 303, answered.text

    with runtime.transaction() as session:
        # The report and what came with it arrived: the scan has something to scan.
        report = session.scalar(select(Report))
        assert report is not None
        assert report.channel is ReportChannel.PUBLIC_FORM
        assert report.urgent is True
        assert session.scalar(select(func.count()).select_from(ReportMessage)) == 1
        assert session.scalar(select(func.count()).select_from(Evidence)) == 1
        dump = dump_tables(session)

    assert report.id in dump
    assert "public-form" in dump
    assert [trace for trace in TRACES if trace in dump] == []
    assert TARGET not in dump

    evidence_files = [p for p in settings.resolved_evidence_dir.rglob("*") if p.is_file()]
    assert len(evidence_files) == 1
    for path in evidence_files:
        raw = path.read_bytes()
        assert [t for t in TRACES if t.encode() in raw] == []
        assert b"Licence plate" not in raw

    if dialect != "sqlite":
        return
    runtime.close()  # checkpoints the write-ahead log into the database file
    database = Path(str(make_url(database_url).database))
    raw = b"".join(
        f.read_bytes() for f in (database, database.with_name(database.name + "-wal")) if f.exists()
    )
    assert report.id.encode() in raw
    assert [t for t in TRACES if t.encode() in raw] == []
