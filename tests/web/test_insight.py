"""The dashboard behind sign-in and the open statistics: pages, CSV and JSON, and a property test
over random data sets that no public output shows a count below k or lets a withheld count be
worked out from the published ones, even by someone who took the perturbed counts for exact
ones. Open statistics show the latest release only."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterator
from fractions import Fraction
from functools import partial
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

import builders
from haven.access import accounts
from haven.access.accounts import NewOrganisation, NewUser, create_organisation, create_user
from haven.access.passwords import hash_password
from haven.crypto.fields import FieldCipher
from haven.domain.enums import ContributorKind, Role
from haven.insight.open import open_records, perturbed_tables, tallies
from haven.insight.releases import Publisher, latest_release, make_release, record_keys
from haven.registry.schemas import IncidentIn
from haven.registry.writer import Actor, RegistryWriter
from haven.runtime import Runtime
from haven.web.app import create_app

PASSWORD = "correct horse battery staple"
K = 5


_incident = partial(
    builders.incident,
    origin_state="cn",
    tactics=["surveillance"],
    tlp="clear",
    status="verified",
)


def _write(
    runtime: Runtime, cipher: FieldCipher, organisation: str, rows: list[IncidentIn]
) -> None:
    with runtime.transaction() as session:
        writer = RegistryWriter(session, cipher, Actor(organisation, "test"))
        for row in rows:
            writer.add_incident(row)
        writer.flush()


@pytest.fixture
def organisation(runtime: Runtime, cipher: FieldCipher, monkeypatch: pytest.MonkeyPatch) -> str:
    hashed = hash_password(PASSWORD)
    monkeypatch.setattr(accounts, "hash_password", lambda _password: hashed)
    with runtime.transaction() as session:
        org = create_organisation(
            session, cipher, NewOrganisation("Exile Legal Aid", ContributorKind.NGO), actor="t"
        )
        for login, role in (
            ("analyst@example.org", Role.ANALYST),
            ("auditor@example.org", Role.AUDITOR),
        ):
            create_user(
                session, cipher, NewUser(org, login, PASSWORD, frozenset({role})), actor="t"
            )
    return org


@pytest.fixture
def client(runtime: Runtime, organisation: str) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as client:
        yield client


def _release(runtime: Runtime) -> None:
    with runtime.transaction() as session:
        make_release(session, Publisher.of(runtime.settings, runtime.cipher(), "test:release"))


def _sign_in(client: TestClient, login: str) -> None:
    form = client.get("/sign-in").text
    found = re.search(r'name="csrf" value="([^"]*)"', form)
    assert found is not None
    data = {"login": login, "password": PASSWORD, "csrf": found.group(1)}
    assert client.post("/sign-in", data=data, follow_redirects=False).status_code == 303


def _csv(body: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body)))


# -- the dashboard --------------------------------------------------------------------------------


def test_the_dashboard_needs_sign_in(client: TestClient) -> None:
    answer = client.get("/insight", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/sign-in"


def test_an_analyst_sees_the_figures_of_what_they_may_see(
    client: TestClient, runtime: Runtime, cipher: FieldCipher, organisation: str
) -> None:
    _write(
        runtime,
        cipher,
        organisation,
        [
            _incident(tlp="amber"),
            _incident(tlp="green", origin_state="ir", host_state="fr"),
            _incident(tlp="red", origin_state="ru"),
        ],
    )
    _sign_in(client, "analyst@example.org")
    html = client.get("/insight").text
    assert "<strong>2</strong> incidents." in html
    # Every figure has its chart but targets by profile: no incident names a target.
    assert html.count('<img class="chart" src="data:image/svg+xml;base64,') == 9
    assert re.search(r'id="figure-profile">\s*<h2>[^<]*</h2>\s*<p class="empty">', html)
    assert "No referrals yet" in html

    rows = _csv(client.get("/insight/origin.csv").text)
    assert rows == [
        ["origin", "origin_label", "incidents"],
        ["CN", "China", "1"],
        ["IR", "Iran", "1"],
        ["total", "", "2"],
    ]
    filtered = _csv(client.get("/insight/host.csv?from=2023&to=2023&region=eu").text)
    assert filtered[-1] == ["total", "", "2"]
    asia = client.get("/insight?region=asia").text
    assert "No incidents match" in asia


def test_a_bad_filter_is_explained(client: TestClient) -> None:
    _sign_in(client, "analyst@example.org")
    answer = client.get("/insight?from=2024&to=2020")
    assert answer.status_code == 400
    assert "the period ends before it starts" in answer.text
    assert "unknown region" in client.get("/insight?region=atlantis").text
    assert client.get("/insight/nothing.csv").status_code == 404


def test_a_role_without_records_reads_no_figures(client: TestClient) -> None:
    _sign_in(client, "auditor@example.org")
    assert "Your role does not read figures" in client.get("/insight").text
    assert client.get("/insight/origin.csv").status_code == 403


# -- open statistics -----------------------------------------------------------------------------


def test_open_statistics_before_the_first_release(client: TestClient) -> None:
    html = client.get("/open").text
    assert "No open statistics have been released yet" in html
    assert "Methods" in html
    assert "every count carries a small random error" in html
    for path in ("/api/v1/open/figures", "/api/v1/open/tables/year.json", "/open/year.csv"):
        answer = client.get(path)
        assert answer.status_code == 404
        assert "no open statistics have been released yet" in answer.text


def test_open_statistics_publish_nothing_below_the_threshold(
    client: TestClient, runtime: Runtime, cipher: FieldCipher, organisation: str
) -> None:
    _write(runtime, cipher, organisation, [_incident() for _ in range(K - 1)])
    _release(runtime)
    figures = client.get("/api/v1/open/figures").json()
    html = client.get("/open").text
    # With their error, 4 incidents may come to 5 or more, and are then shown as such.
    if figures["total"] is None:
        assert "Nothing is published in this release" in html
        assert all(not table["rows"] for table in figures["tables"].values())
    else:
        assert figures["total"] >= K
    assert all(n >= K for n in _numbers_in_page(html))
    assert "Methods" in html


def test_open_statistics_show_the_latest_release_and_nothing_live(
    client: TestClient, runtime: Runtime, cipher: FieldCipher, organisation: str
) -> None:
    _write(
        runtime,
        cipher,
        organisation,
        [_incident() for _ in range(40)]
        + [_incident(tlp="amber", cleared_for_statistics=True) for _ in range(3)]
        + [_incident(tlp="green") for _ in range(9)]
        + [_incident(status="reported") for _ in range(9)],
    )
    _release(runtime)
    with runtime.reading() as session:
        released = latest_release(session)
    assert released is not None
    assert released.released_at is not None
    figures = client.get("/api/v1/open/figures").json()
    assert figures == released.as_dict() | {"released_at": released.released_at.isoformat()}
    assert figures["released_at"] is not None
    # 43 incidents count (CLEAR or cleared, and verified); every count carries its error.
    assert figures["total"] is not None
    assert abs(figures["total"] - 43) <= 8
    assert [row["origin"] for row in figures["tables"]["origin"]["rows"]] == ["CN"]
    assert figures["methods"][0].startswith("What is counted")
    assert any(rule.startswith("Noise:") for rule in figures["methods"])
    table = client.get("/api/v1/open/tables/year.json").json()
    assert [row["year"] for row in table["rows"]] == ["2023"]
    assert table["released_at"] == figures["released_at"]
    year_csv = _csv(client.get("/api/v1/open/tables/year.csv").text)
    assert year_csv[1] == ["2023", "2023", str(table["rows"][0]["count"])]
    assert client.get("/open/year.csv").text == client.get("/api/v1/open/tables/year.csv").text
    assert client.get("/api/v1/open/tables/people.csv").status_code == 404
    html = client.get("/open").text
    assert "These figures are the release of" in html
    assert f"<strong>{figures['total']}</strong> incidents." in html
    # Profiles: no targets; every other table has its chart.
    assert html.count('<img class="chart"') == 9

    # Records added after the release change nothing that is shown.
    _write(runtime, cipher, organisation, [_incident(origin_state="ru") for _ in range(30)])
    assert client.get("/api/v1/open/figures").json() == figures
    _release(runtime)
    later = client.get("/api/v1/open/figures").json()
    assert later["released_at"] != figures["released_at"]
    assert "RU" in [row["origin"] for row in later["tables"]["origin"]["rows"]]


# -- no public output reveals a small count --------------------------------------------------------

ORIGINS = ("cn", "ru", "ir", "tr")
HOSTS = ("de", "fr", "se", None)
TACTICS = ("surveillance", "abduction", "spyware", "interpol-abuse")


def _numbers_in_page(html: str) -> list[int]:
    """Every count in the page's data tables and headline."""
    cells = re.findall(r'<td class="count">(\d+)</td>', html)
    headline = re.findall(r"<strong>(\d+)</strong> incidents", html)
    return [int(n) for n in cells + headline]


def _determined(unknowns: list[Any], equations: list[tuple[list[Any], Fraction]]) -> set[Any]:
    """Unknowns fixed by the equations (each: the unknowns it sums, and the known remainder),
    by exact Gaussian elimination over the rationals."""
    index = {u: i for i, u in enumerate(unknowns)}
    rows = []
    for members, _ in equations:
        row = [Fraction(0)] * len(unknowns)
        for member in members:
            row[index[member]] += 1
        if any(row):
            rows.append(row)
    pivots: list[int] = []
    rank = 0
    for column in range(len(unknowns)):
        pivot = next((r for r in range(rank, len(rows)) if rows[r][column] != 0), None)
        if pivot is None:
            continue
        rows[rank], rows[pivot] = rows[pivot], rows[rank]
        lead = rows[rank][column]
        rows[rank] = [value / lead for value in rows[rank]]
        for r in range(len(rows)):
            if r != rank and rows[r][column] != 0:
                factor = rows[r][column]
                rows[r] = [a - factor * b for a, b in zip(rows[r], rows[rank], strict=True)]
        pivots.append(column)
        rank += 1
    free = set(range(len(unknowns))) - set(pivots)
    return {
        unknowns[column] for r, column in enumerate(pivots) if all(rows[r][f] == 0 for f in free)
    }


def _check_two_way(
    true: Counter[tuple[str, str]],
    cells: dict[tuple[str, str], int],
    rows: dict[str, int],
    columns: dict[str, int],
    total: int | None,
) -> None:
    """No withheld cell or margin of a two-way table can be worked out from what is published."""
    row_true: Counter[str] = Counter()
    column_true: Counter[str] = Counter()
    for (r, c), n in true.items():
        row_true[r] += n
        column_true[c] += n
    hidden_cells = [("cell", key) for key, n in true.items() if n and key not in cells]
    hidden_rows = [("row", r) for r, n in row_true.items() if n and r not in rows]
    hidden_columns = [("column", c) for c, n in column_true.items() if n and c not in columns]
    hidden_total = [("total", "")] if total is None and true else []
    unknowns = hidden_cells + hidden_rows + hidden_columns + hidden_total
    if not unknowns:
        return
    equations: list[tuple[list[Any], Fraction]] = []
    for r in row_true:
        members = [("cell", key) for key in true if key[0] == r and ("cell", key) in unknowns]
        margin = [("row", r)] if ("row", r) in unknowns else []
        equations.append((members + margin, Fraction(0)))
    for c in column_true:
        members = [("cell", key) for key in true if key[1] == c and ("cell", key) in unknowns]
        margin = [("column", c)] if ("column", c) in unknowns else []
        equations.append((members + margin, Fraction(0)))
    equations.append((hidden_rows + hidden_total, Fraction(0)))
    equations.append((hidden_columns + hidden_total, Fraction(0)))
    assert _determined(unknowns, equations) == set()


incident_rows = st.lists(
    st.tuples(
        st.sampled_from(ORIGINS),
        st.sampled_from(HOSTS),
        st.integers(2019, 2023),
        st.lists(st.sampled_from(TACTICS), min_size=1, max_size=2, unique=True),
        st.sampled_from(["clear", "clear", "green", "amber"]),
        st.booleans(),
        st.sampled_from(["verified", "verified", "verified", "reported"]),
    ),
    min_size=0,
    max_size=60,
)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=incident_rows)
def test_no_public_output_reveals_a_small_count(
    client: TestClient, runtime: Runtime, cipher: FieldCipher, organisation: str, data: list[Any]
) -> None:
    with runtime.transaction() as session:
        session.execute(text("DELETE FROM incident_tactics"))
        session.execute(text("DELETE FROM incidents"))
    rows = [
        _incident(
            origin_state=origin,
            host_state=host,
            occurred={"start": f"{year}-03-01", "precision": "day"},
            tactics=tactics,
            tlp=tlp,
            cleared_for_statistics=cleared,
            status=status,
        )
        for origin, host, year, tactics, tlp, cleared, status in data
    ]
    _write(runtime, cipher, organisation, rows)
    _release(runtime)
    counted = [
        r
        for r in rows
        if (r.tlp.value == "clear" or r.cleared_for_statistics) and r.status.value == "verified"
    ]

    figures = client.get("/api/v1/open/figures").json()
    published: list[int] = [] if figures["total"] is None else [figures["total"]]
    for name, table in figures["tables"].items():
        published += [row["count"] for row in table["rows"]]
        if table["total"] is not None:
            published.append(table["total"])
        body = _csv(client.get(f"/api/v1/open/tables/{name}.csv").text)
        published += [int(line[-1]) for line in body[1:]]
    published += _numbers_in_page(client.get("/open").text)
    assert all(n >= K for n in published), published

    true = Counter((r.origin_state, r.host_state or "") for r in counted)
    tables = figures["tables"]
    _check_two_way(
        true,
        {(row["origin"], row["host"]): row["count"] for row in tables["origin_host"]["rows"]},
        {row["origin"]: row["count"] for row in tables["origin"]["rows"]},
        {row["host"]: row["count"] for row in tables["host"]["rows"]},
        figures["total"],
    )
    # The years withheld are none or at least two that together come to at least K with their
    # errors, so the year table's total gives none of them away.
    with runtime.reading() as session:
        keys = record_keys(cipher)
        perturbed = perturbed_tables(tallies(open_records(session), keys))["year"].cells
    shown_years = {row["year"]: row["count"] for row in tables["year"]["rows"]}
    hidden = [key[0] for key in perturbed if key[0] not in shown_years]
    if tables["year"]["total"] is not None:
        assert len(hidden) != 1
        withheld = sum(perturbed[(y,)] for y in hidden)
        assert withheld == 0 or withheld >= K
