"""``haven stats`` and ``haven report``: the open view shows the latest release, which counts
only what may be published and publishes nothing small; ``haven stats release`` makes one; an
organisation's view counts what its analysts may read, exactly; the annual report is one
self-contained HTML document and a PDF."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import pytest

import builders
from haven.access.accounts import NewGroup, create_sharing_group
from haven.access.sharing import Share, share_record
from haven.cli.stats import analyst_of
from haven.cli.worker import PERIODIC
from haven.domain.enums import ContributorKind
from haven.insight.figures import Response
from haven.insight.releases import release_when_due
from haven.insight.report import NO_REFERRALS, AnnualReport, render_html
from haven.registry.contributors import ensure_contributor
from haven.registry.writer import Actor, RegistryWriter
from haven.runtime import Runtime

Cli = Callable[..., Any]

OWN = "Exile Legal Aid"
OTHER = "Safe Return Network"
TITLES = (
    "Incidents by year",
    "Incidents by origin state",
    "Incidents by host state",
    "Origin state by host state",
    "Incidents by tactic",
    "Incidents by PACE method",
    "Tactic by year",
    "Targets by profile",
    "Incidents by host-state involvement",
    "Incidents by accusation used",
)


_incident = partial(builders.incident, tlp="clear", status="verified")


@pytest.fixture
def incidents(runtime: Runtime) -> None:
    """Open statistics may count 4 incidents (3 CLEAR, 1 cleared AMBER); an analyst of OWN 9."""
    cipher = runtime.cipher()
    with runtime.transaction() as session:
        own = ensure_contributor(session, cipher, OWN, ContributorKind.NGO, "FR")
        other = ensure_contributor(session, cipher, OTHER, ContributorKind.NGO, "NL")
        group = create_sharing_group(
            session, cipher, NewGroup("Partners", other, [own]), actor="test"
        )
        ours = RegistryWriter(session, cipher, Actor(own, "test:writer", "test"))
        for _ in range(3):
            ours.add_incident(_incident())
        ours.add_incident(
            _incident(
                tlp="amber",
                cleared_for_statistics=True,
                origin_state="cn",
                host_state="fr",
                tactics=["spyware", "hacking"],
            )
        )
        for _ in range(2):
            ours.add_incident(
                _incident(tlp="amber", origin_state="ir", occurred={"start": "2022-03-01"})
            )
        ours.add_incident(_incident(tlp="amber+strict"))
        ours.flush()
        theirs = RegistryWriter(session, cipher, Actor(other, "test:writer", "test"))
        theirs.add_incident(_incident(tlp="green", origin_state="by"))
        shared = theirs.add_incident(_incident(tlp="amber", origin_state="by"))
        theirs.add_incident(_incident(tlp="amber", origin_state="by"))  # not shared
        theirs.add_incident(_incident(tlp="red", origin_state="by"))
        theirs.flush()
        _, reader = analyst_of(session, OTHER)
        share_record(session, reader, Share("incidents", shared, groups=[group]))


def _json(cli: Cli, *argv: str) -> dict[str, Any]:
    outcome = cli("stats", "--json", *argv)
    assert outcome.code == 0, outcome.err
    data: dict[str, Any] = json.loads(outcome.out)
    return data


def _rows(data: dict[str, Any], table: str) -> dict[str, int]:
    return {
        "/".join(row[d] for d in data["tables"][table]["dimensions"]): row["count"]
        for row in data["tables"][table]["rows"]
    }


def _released(cli: Cli) -> str:
    outcome = cli("stats", "release")
    assert outcome.code == 0, outcome.err
    assert outcome.out.startswith("released open statistics, ")
    return str(outcome.out)


def _published_counts(data: dict[str, Any]) -> list[int]:
    counts = [row["count"] for table in data["tables"].values() for row in table["rows"]]
    totals = [table["total"] for table in data["tables"].values() if table["total"] is not None]
    return counts + totals + ([data["total"]] if data["total"] is not None else [])


@pytest.mark.usefixtures("incidents")
def test_the_open_view_shows_the_latest_release_and_nothing_small(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = cli("stats")
    assert refused.code == 2
    assert "no open statistics have been released yet" in refused.err
    assert "haven stats release" in refused.err

    _released(cli)
    withheld = _json(cli)
    assert withheld["view"] == "open"
    assert withheld["threshold"] == 5
    assert withheld["released_at"] is not None
    # 4 incidents count; with their error they may come to 5 or more, never to less and shown.
    assert all(n >= 5 for n in _published_counts(withheld))
    assert withheld["response"] == []
    assert withheld["response_note"] == NO_REFERRALS

    # Development mode accepts a lower threshold; a release made with it shows every count,
    # each with its error.
    monkeypatch.setenv("HAVEN_OPEN_THRESHOLD", "1")
    monkeypatch.setenv("HAVEN_TOP_STATES", "1")
    assert _json(cli)["threshold"] == 5  # the release shown is the one made before
    _released(cli)
    data = _json(cli, "--top", "3")
    assert data["threshold"] == 1
    assert data["total"] is not None
    assert abs(data["total"] - 4) <= 8
    assert set(_rows(data, "year")) == {"2023"}
    assert set(_rows(data, "origin")) == {"RU", "CN"}
    assert set(_rows(data, "tactic")) == {"harassment", "spyware", "hacking"}
    assert all(abs(n - 3) <= 8 for n in _rows(data, "tactic").values())
    assert data["tables"]["tactic"]["total"] is None
    top = data["concentration"]
    assert len(top["states"]) == 1  # the release's own top states, not --top
    assert top["states"][0]["origin"] in {"RU", "CN"}
    assert any("Small counts" in paragraph for paragraph in data["methods"])
    assert any(paragraph.startswith("Noise:") for paragraph in data["methods"])


@pytest.mark.usefixtures("incidents")
def test_an_organisations_view_counts_its_own_amber_records_and_what_is_shared_with_it(
    cli: Cli,
) -> None:
    data = _json(cli, "--organisation", OWN)
    assert data["view"] == "organisation"
    assert data["marking"] == "TLP:AMBER — internal"
    # 3 CLEAR + 1 AMBER cleared + 2 AMBER + 1 AMBER+STRICT of its own, 1 GREEN and 1 AMBER
    # shared with its group by the other; not the other's unshared AMBER nor its RED.
    assert data["total"] == 9
    assert _rows(data, "origin") == {"RU": 4, "BY": 2, "IR": 2, "CN": 1}
    assert _rows(data, "year") == {"2023": 7, "2022": 2}
    assert data["response"] == []

    filtered = _json(cli, "--org", OWN, "--from", "2023", "--to", "2023", "--region", "EU")
    assert filtered["total"] == 7
    assert filtered["filters"]["description"] == "2023 to 2023, in European Union"
    # The other organisation counts its own AMBER but not its RED, which names no recipient.
    assert _json(cli, "--organisation", OTHER)["total"] == 6


@pytest.mark.usefixtures("incidents")
def test_the_terminal_shows_every_table_by_its_title(cli: Cli) -> None:
    shown = cli("stats", "--organisation", OWN)
    assert shown.code == 0, shown.err
    assert "TLP:AMBER — internal" in shown.out
    assert "Total: 9 incidents" in shown.out
    for title in TITLES:
        assert title in shown.out
    assert "Russian Federation" in shown.out
    assert NO_REFERRALS in shown.out

    _released(cli)
    public = cli("stats")
    assert public.code == 0, public.err
    assert "Open statistics" in public.out
    assert "These figures are the release of" in public.out
    assert "Total: " in public.out
    assert all(title in public.out for title in TITLES)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--region", "nowhere"), "unknown region 'nowhere'"),
        (("--from", "2020"), "open statistics have no filters"),
        (("--org", "Nobody"), "no organisation 'Nobody'"),
        (("--org", OWN, "--from", "2024", "--to", "2020"), "the period ends before it starts"),
    ],
)
def test_bad_options_are_refused_in_one_line(cli: Cli, argv: tuple[str, ...], message: str) -> None:
    refused = cli("stats", *argv)
    assert refused.code == 2
    assert message in refused.err
    assert refused.err.startswith("error: ")
    assert refused.out == ""


def _written(outcome: Any, directory: Path, year: int) -> tuple[str, bytes, int]:
    assert outcome.code == 0, outcome.err
    html_path = directory / f"haven-report-{year}.html"
    pdf_path = directory / f"haven-report-{year}.pdf"
    assert str(html_path) in outcome.out
    assert str(pdf_path) in outcome.out
    pages = re.search(r"(\d+) pages?", outcome.out)
    assert pages is not None
    assert sorted(p.name for p in directory.iterdir()) == [html_path.name, pdf_path.name]
    return html_path.read_text(encoding="utf-8"), pdf_path.read_bytes(), int(pages.group(1))


@pytest.mark.usefixtures("incidents")
def test_the_annual_report_is_self_contained_html_and_a_pdf(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    refused = cli("report", "--year", "2023", "--output", str(tmp_path / "none"))
    assert refused.code == 2
    assert "no open statistics have been released yet" in refused.err
    monkeypatch.setenv("HAVEN_OPEN_THRESHOLD", "1")
    _released(cli)
    directory = tmp_path / "open"
    html, pdf, pages = _written(
        cli("report", "--year", "2023", "--output", str(directory)), directory, 2023
    )
    assert "<h1>Transnational repression recorded in Haven, 2023</h1>" in html
    assert "Incidents by tactic, 2023" in html  # the tactic-by-year table, cut to the year
    assert "Incidents by origin state" in html
    assert "all years" in html
    assert '<h2 id="methods">Methods</h2>' in html
    assert "Small counts: no published count is below 1" in html
    assert "These figures are the release of" in html
    assert html.count("<svg") == 9  # every table but the year's, which is the total
    assert '<th scope="col"' in html
    assert "<caption>" in html
    assert "Russian Federation" in html
    assert "TLP:AMBER" not in html
    assert not re.search(r"<(link|script|img)\b|@import|url\(http", html)
    assert pdf.startswith(b"%PDF")
    assert pages >= 1

    internal = tmp_path / "internal"
    html, pdf, pages = _written(
        cli("report", "--year", "2023", "--output", str(internal), "--organisation", OWN),
        internal,
        2023,
    )
    assert "TLP:AMBER — internal" in html
    assert "not for publication" in html
    assert "Small counts are not suppressed" in html
    assert "Belarus" in html  # shared with the organisation's group
    assert pdf.startswith(b"%PDF")
    assert pages >= 1
    assert (internal / "haven-report-2023.pdf").stat().st_mode & 0o077 == 0


def test_the_response_table_names_each_member_state() -> None:
    answer = Response(
        member_state="DE",
        referrals=6,
        acknowledged=5,
        ack_median_hours=3.5,
        ack_p90_hours=20.0,
        actions=2,
        action_median_days=4.0,
        action_p90_days=9.0,
        overdue=3,
    )
    report = AnnualReport(
        year=2023,
        view="organisation",
        organisation="Exile <Legal> Aid",
        period="2023",
        total=0,
        whole_total=None,
        concentration=None,
        concentration_scope="2023",
        tables=(),
        left_out="",
        response=(answer,),
        response_note="Referrals of cases about incidents that began in 2023.",
        methods=("Counts are exact.",),
        marking="TLP:AMBER — internal",
        generated=date(2024, 1, 31),
    )
    html = render_html(report)
    assert '<th scope="row">Germany</th>' in html
    assert '<td class="count">9.0</td>' in html
    assert "50%" in html
    assert "Exile &lt;Legal&gt; Aid" in html  # autoescaped


def test_every_worker_releases_open_statistics_when_due() -> None:
    assert release_when_due in PERIODIC
