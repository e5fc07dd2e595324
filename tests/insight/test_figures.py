"""The figures: a hand-made data set where every figure is known, the gate's one-by-one cases
(shares, consent, named recipients, referrals), response times, and a property test that every
table equals a direct recount of the incidents the policy gate lets the reader count.

The count tables (:mod:`haven.insight.cube`) decide most incidents by label, contributor and
clearance; :func:`haven.insight.figures.count` corrects them one by one for the rest. The property
test recounts straight from ``incidents`` under :func:`haven.access.policy.counted`, so any
difference between the two paths shows up as a table that differs.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import ColumnElement, func, insert, select
from sqlalchemy.orm import Session, aliased

from haven.access import accounts
from haven.access.accounts import (
    NewGroup,
    NewOrganisation,
    NewUser,
    create_organisation,
    create_sharing_group,
    create_user,
)
from haven.access.consent import set_consent
from haven.access.models import Consent, RecordRecipient, RecordShare
from haven.access.policy import Reader, counted
from haven.access.sharing import Share, share_record
from haven.casework.models import Referral
from haven.casework.workflow import move, refer
from haven.crypto.fields import FieldCipher
from haven.db.values import new_id
from haven.domain.countries import region_states
from haven.domain.deadlines import Deadlines
from haven.domain.enums import (
    ContributorKind,
    PerpetratorKind,
    PersonRole,
    RecipientKind,
    ReferralAsk,
    ReferralStatus,
    ReportChannel,
    ReporterRelation,
    ReportStatus,
    Role,
    Tlp,
)
from haven.insight.figures import (
    FIRST_YEAR,
    Concentration,
    Figures,
    Filters,
    Presentation,
    Response,
    figures,
)
from haven.insight.models import TacticMethod
from haven.intake.models import Report
from haven.intake.reports import ReportIn, Submission, submit_report
from haven.registry.contributors import SYSTEM_CONTRIBUTOR_ID
from haven.registry.models import Incident, IncidentPerson, IncidentTactic, Person
from haven.registry.schemas import IncidentIn, PersonIn, parse
from haven.registry.writer import Actor, RegistryWriter

NOW = datetime(2025, 1, 15, 12, tzinfo=UTC)
LAST_YEAR = 9999  # the last year Filters accepts
PASSWORD = "correct horse battery staple"
Counts = dict[tuple[str, ...], int]
TABLES = (
    "year",
    "origin",
    "host",
    "origin_host",
    "tactic",
    "method",
    "tactic_year",
    "profile",
    "involvement",
    "accusation",
)
ADDITIVE = {"year", "origin", "host", "origin_host", "profile", "involvement", "accusation"}


# -- organisations, users, readers ----------------------------------------------------------------


@dataclass(frozen=True)
class Network:
    """Two NGOs (A and B) and a German authority (C); A and B share group AB, B and C group BC."""

    a: str
    b: str
    c: str
    group_ab: str
    group_bc: str
    analyst_a: Reader
    other_a: Reader  # a second analyst of A
    analyst_b: Reader
    analyst_c: Reader

    @property
    def organisations(self) -> tuple[str, str, str]:
        return self.a, self.b, self.c

    @property
    def users(self) -> tuple[Reader, ...]:
        return self.analyst_a, self.other_a, self.analyst_b, self.analyst_c


PUBLIC = Reader.public("open")


@dataclass(frozen=True)
class Account:
    """A user of an organisation to create, and what their reader holds."""

    organisation: str
    login: str
    groups: frozenset[str] = frozenset()
    role: Role = Role.ANALYST
    kind: ContributorKind = ContributorKind.NGO
    member_state: str | None = None


def _user(session: Session, cipher: FieldCipher, account: Account) -> Reader:
    roles = frozenset({account.role})
    new = NewUser(account.organisation, account.login, PASSWORD, roles)
    return Reader(
        user_id=create_user(session, cipher, new, actor="test"),
        organisation_id=account.organisation,
        organisation_kind=account.kind,
        member_state=account.member_state,
        roles=roles,
        groups=account.groups,
        surface="dashboard",
    )


@pytest.fixture(autouse=True)
def _no_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nobody signs in here: skip Argon2 (a fifth of a second per user) when creating users."""
    monkeypatch.setattr(accounts, "hash_password", lambda password: "not-a-password-hash")


@pytest.fixture
def network(session: Session, cipher: FieldCipher) -> Network:
    a = create_organisation(
        session, cipher, NewOrganisation("Org A", ContributorKind.NGO), actor="test"
    )
    b = create_organisation(
        session, cipher, NewOrganisation("Org B", ContributorKind.NGO), actor="test"
    )
    c = create_organisation(
        session, cipher, NewOrganisation("Org C", ContributorKind.AUTHORITY, "DE"), actor="t"
    )
    ab = create_sharing_group(session, cipher, NewGroup("AB", a, [b]), actor="test")
    bc = create_sharing_group(session, cipher, NewGroup("BC", b, [c]), actor="test")
    authority = ContributorKind.AUTHORITY
    return Network(
        a=a,
        b=b,
        c=c,
        group_ab=ab,
        group_bc=bc,
        analyst_a=_user(session, cipher, Account(a, "analyst@a.example", frozenset({ab}))),
        other_a=_user(session, cipher, Account(a, "other@a.example", frozenset({ab}))),
        analyst_b=_user(session, cipher, Account(b, "analyst@b.example", frozenset({ab, bc}))),
        analyst_c=_user(
            session,
            cipher,
            Account(c, "analyst@c.example", frozenset({bc}), kind=authority, member_state="DE"),
        ),
    )


def _brief_reader(network: Network) -> Reader:
    """The analyst of organisation A exactly as the dashboard builds one without groups."""
    return Reader(
        user_id=network.analyst_a.user_id,
        organisation_id=network.a,
        organisation_kind=ContributorKind.NGO,
        member_state=None,
        roles=frozenset({Role.ANALYST}),
        groups=frozenset(),
        surface="dashboard",
    )


# -- writing incidents ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """One incident of a hand-made data set; ``targets`` name people of :data:`PEOPLE`."""

    year: int
    origin: str
    host: str | None
    tactics: tuple[str, ...]
    tlp: str = "green"
    by: str = "b"  # "a" or "b": the contributing organisation
    cleared: bool = False
    involvement: str = "unknown"
    accusation: str | None = None
    targets: tuple[str, ...] = ()
    witnesses: tuple[str, ...] = ()


def _incident_in(spec: Spec, title: str) -> IncidentIn:
    return parse(
        IncidentIn,
        {
            "title": title,
            "occurred": {"start": f"{spec.year}-05-01", "precision": "day"},
            "origin_state": spec.origin,
            "host_state": spec.host,
            "tactics": list(spec.tactics),
            "tlp": spec.tlp,
            "cleared_for_statistics": spec.cleared,
            "host_involvement": spec.involvement,
            "accusation": spec.accusation,
        },
    )


def _writer(session: Session, cipher: FieldCipher, contributor: str) -> RegistryWriter:
    return RegistryWriter(session, cipher, Actor(contributor, f"test:{contributor}", "test"))


def _write(
    session: Session,
    cipher: FieldCipher,
    network: Network,
    specs: dict[str, Spec],
    people: dict[str, str | None],
) -> tuple[dict[str, str], dict[str, str]]:
    """Write people (by the system) and incidents (by A or B); returns both ids by name."""
    system = _writer(session, cipher, SYSTEM_CONTRIBUTOR_ID)
    person_ids = {
        name: system.add_person(parse(PersonIn, {"profile": profile}))
        for name, profile in people.items()
    }
    system.flush()
    writers = {"a": _writer(session, cipher, network.a), "b": _writer(session, cipher, network.b)}
    incident_ids: dict[str, str] = {}
    for name, spec in specs.items():
        writer = writers[spec.by]
        incident_id = writer.add_incident(_incident_in(spec, name))
        incident_ids[name] = incident_id
        for person in spec.targets:
            writer.link_person(incident_id, person_ids[person], PersonRole.TARGET)
        for person in spec.witnesses:
            writer.link_person(incident_id, person_ids[person], PersonRole.WITNESS)
    for writer in writers.values():
        writer.flush()
    return incident_ids, person_ids


def _rows(result: Figures, name: str) -> Counts:
    return dict(result.tables[name].rows)


def _one(**counts: int) -> Counts:
    return {(key.replace("_", "-"),): n for key, n in counts.items()}


# -- the hand-made data set -----------------------------------------------------------------------

PEOPLE: dict[str, str | None] = {
    "jo": "journalist",  # targeted in two incidents: counts twice
    "ja": "journalist",
    "ac": "activist",
    "ad": "activist",
    "la": "lawyer",
    "di": "diaspora-member",
    "nn": None,  # no profile recorded
    "wi": "academic",  # only ever a witness: never counted
}

# Sixteen incidents analyst A counts (CN 6, IR 4, RU 4, TR 2) and four it does not (x*).
DATA: dict[str, Spec] = {
    "c1": Spec(2022, "CN", "DE", ("surveillance", "spyware"), targets=("jo",)),
    "c2": Spec(
        2022, "CN", "DE", ("harassment",), "clear", involvement="none", accusation="terrorism",
        targets=("ac",),
    ),
    "c3": Spec(
        2022, "CN", "FR", ("hacking", "spyware", "abduction"), involvement="complicit",
        targets=("ja", "nn"), witnesses=("wi",),
    ),
    "c4": Spec(2023, "CN", "JP", ("surveillance",), "clear", "a", accusation="extremism"),
    "c5": Spec(
        2023, "CN", None, ("interpol-abuse",), cleared=True, involvement="active",
        accusation="terrorism", targets=("la",),
    ),
    "c6": Spec(2024, "CN", "DE", ("spyware",), "amber", "a", targets=("ad",)),
    "r1": Spec(2023, "RU", "DE", ("physical-assault",), "amber+strict", "a", targets=("ac",)),
    "r2": Spec(2023, "RU", "FR", ("passport-cancellation",), witnesses=("wi",)),
    "r3": Spec(
        2023, "RU", "JP", ("intimidation", "coercion-by-proxy"), involvement="none",
        accusation="state-security", targets=("jo",),
    ),
    "r4": Spec(2024, "RU", "DE", ("surveillance",), "clear", cleared=True, targets=("ad",)),
    "i1": Spec(2024, "IR", "DE", ("harassment", "surveillance")),
    "i2": Spec(2024, "IR", "GB", ("doxing",), by="a", accusation="fraud", targets=("ja",)),
    "i3": Spec(
        2024, "IR", None, ("forced-return",), "clear", involvement="active", accusation="other",
        targets=("di",),
    ),
    "i4": Spec(
        2022, "IR", "FR", ("surveillance",), "amber", "a", cleared=True, involvement="complicit",
        accusation="terrorism", targets=("la",),
    ),
    "t1": Spec(2024, "TR", "DE", ("surveillance",)),
    "t2": Spec(2023, "TR", "FR", ("arrest-misuse", "forced-return"), targets=("ac",)),
    # Not for A: B's AMBER and AMBER+STRICT, and RED of either without named recipients.
    "x1": Spec(2023, "CN", "DE", ("spyware",), "amber", "b", targets=("jo",)),
    "x2": Spec(2023, "RU", "DE", ("harassment",), "amber+strict", "b", cleared=True,
               targets=("la",)),
    "x3": Spec(2024, "IR", "FR", ("surveillance",), "red", "a"),
    "x4": Spec(2022, "CN", "JP", ("abduction",), "red", "b", cleared=True, targets=("ac",)),
}  # fmt: skip


@pytest.fixture
def data_set(session: Session, cipher: FieldCipher, network: Network) -> dict[str, str]:
    incidents, _ = _write(session, cipher, network, DATA, PEOPLE)
    return incidents


def test_every_figure_of_the_hand_made_data_set_for_an_analyst(
    session: Session, network: Network, data_set: dict[str, str]
) -> None:
    f = figures(session, _brief_reader(network), Filters(), now=NOW)

    assert f.filters == Filters()
    assert f.total == 16
    assert set(f.tables) == set(TABLES)
    assert _rows(f, "year") == {("2022",): 4, ("2023",): 6, ("2024",): 6}
    # Years read in order; every other table is largest first.
    assert f.tables["year"].rows == ((("2022",), 4), (("2023",), 6), (("2024",), 6))
    assert _rows(f, "origin") == {("CN",): 6, ("IR",): 4, ("RU",): 4, ("TR",): 2}
    assert _rows(f, "host") == {("DE",): 7, ("FR",): 4, ("JP",): 2, ("GB",): 1, ("",): 2}
    # Largest first, then by code: the empty code (no host) sorts before "JP".
    assert f.tables["host"].rows == (
        (("DE",), 7), (("FR",), 4), (("",), 2), (("JP",), 2), (("GB",), 1),
    )  # fmt: skip
    assert _rows(f, "origin_host") == {
        ("CN", "DE"): 3, ("CN", "FR"): 1, ("CN", "JP"): 1, ("CN", ""): 1,
        ("RU", "DE"): 2, ("RU", "FR"): 1, ("RU", "JP"): 1,
        ("IR", "DE"): 1, ("IR", "GB"): 1, ("IR", ""): 1, ("IR", "FR"): 1,
        ("TR", "DE"): 1, ("TR", "FR"): 1,
    }  # fmt: skip
    assert _rows(f, "tactic") == _one(
        surveillance=6,
        spyware=3,
        harassment=2,
        forced_return=2,
        hacking=1,
        abduction=1,
        interpol_abuse=1,
        physical_assault=1,
        passport_cancellation=1,
        intimidation=1,
        coercion_by_proxy=1,
        doxing=1,
        arrest_misuse=1,
    )
    # c1 (surveillance + spyware), c3 (hacking + spyware), r3 (intimidation + coercion by
    # proxy) and t2 (arrest + forced return) each count once under their shared method.
    assert _rows(f, "method") == _one(
        threats_from_a_distance=10, direct_attack=4, co_opting_other_countries=3,
        mobility_controls=1,
    )  # fmt: skip
    assert _rows(f, "tactic_year") == {
        ("surveillance", "2022"): 2, ("surveillance", "2023"): 1, ("surveillance", "2024"): 3,
        ("spyware", "2022"): 2, ("spyware", "2024"): 1,
        ("harassment", "2022"): 1, ("harassment", "2024"): 1,
        ("hacking", "2022"): 1, ("abduction", "2022"): 1, ("interpol-abuse", "2023"): 1,
        ("physical-assault", "2023"): 1, ("passport-cancellation", "2023"): 1,
        ("intimidation", "2023"): 1, ("coercion-by-proxy", "2023"): 1, ("doxing", "2024"): 1,
        ("forced-return", "2023"): 1, ("forced-return", "2024"): 1, ("arrest-misuse", "2023"): 1,
    }  # fmt: skip
    # Targets, not incidents: "jo" counts for c1 and r3; the witness never counts.
    assert _rows(f, "profile") == {
        ("activist",): 5, ("journalist",): 4, ("lawyer",): 2, ("diaspora-member",): 1, ("",): 1,
    }  # fmt: skip
    assert _rows(f, "involvement") == _one(unknown=10, none=2, complicit=2, active=2)
    assert _rows(f, "accusation") == {
        ("",): 9, ("terrorism",): 3, ("extremism",): 1, ("state-security",): 1, ("fraud",): 1,
        ("other",): 1,
    }  # fmt: skip

    totals = {name: f.tables[name].total for name in TABLES}
    assert totals == {
        "year": 16, "origin": 16, "host": 16, "origin_host": 16, "tactic": None, "method": None,
        "tactic_year": None, "profile": 13, "involvement": 16, "accusation": 16,
    }  # fmt: skip
    assert {name: f.tables[name].measure for name in TABLES if name != "profile"} == dict.fromkeys(
        set(TABLES) - {"profile"}, "incidents"
    )
    assert f.tables["profile"].measure == "targets"
    assert f.tables["origin_host"].dimensions == ("origin", "host")
    assert f.tables["tactic_year"].dimensions == ("tactic", "year")

    # Every code has a label; "not recorded" for the empty one.
    for name in TABLES:
        table = f.tables[name]
        codes = {code for key, _ in table.rows for code in key}
        assert set(table.labels) == codes, name
    assert f.tables["host"].labels[""] == "not recorded"
    assert f.tables["host"].labels["DE"] == "Germany"
    assert f.tables["origin"].labels["CN"] == "China"
    assert f.tables["profile"].labels[""] == "not recorded"
    assert f.tables["profile"].labels["journalist"] == "Journalist or blogger"
    assert f.tables["accusation"].labels[""] == "not recorded"
    assert f.tables["accusation"].labels["state-security"] == "state security"
    assert f.tables["method"].labels["threats-from-a-distance"] == "Threats from a distance"
    assert f.tables["tactic"].labels["surveillance"] == "Surveillance"
    assert f.tables["year"].labels["2022"] == "2022"

    # With the default top ten, every origin state is in the top.
    assert f.concentration == Concentration(
        10, (("CN", 6), ("IR", 4), ("RU", 4), ("TR", 2)), 16, 16, tied=False
    )
    assert f.concentration.share == 1.0
    assert f.response == ()


@pytest.mark.parametrize(
    ("expected", "share"),
    [
        (Concentration(1, (("CN", 6),), 6, 16, tied=False), 0.375),
        # IR and RU have 4 each: IR comes first by code, and RU ties with it.
        (Concentration(2, (("CN", 6), ("IR", 4)), 10, 16, tied=True), 0.625),
        (Concentration(3, (("CN", 6), ("IR", 4), ("RU", 4)), 14, 16, tied=False), 0.875),
        (Concentration(4, (("CN", 6), ("IR", 4), ("RU", 4), ("TR", 2)), 16, 16, tied=False), 1.0),
    ],
)
@pytest.mark.usefixtures("data_set")
def test_the_concentration_in_the_top_n_origin_states(
    session: Session, network: Network, *, expected: Concentration, share: float
) -> None:
    shown = Presentation(top_n=expected.n)
    f = figures(session, network.analyst_a, Filters(), presentation=shown, now=NOW)
    assert f.concentration == expected
    assert f.concentration.share == share


def test_public_figures_count_only_clear_or_cleared_incidents(
    session: Session, network: Network, data_set: dict[str, str]
) -> None:
    # c2, c4, r4, i3 are TLP:CLEAR; c5 (GREEN), i4 (AMBER), x2 (AMBER+STRICT) and x4 (RED) are
    # cleared for statistics by their contributor.
    f = figures(session, PUBLIC, Filters(), presentation=Presentation(top_n=2), now=NOW)
    assert f.total == 8
    assert _rows(f, "year") == {("2022",): 3, ("2023",): 3, ("2024",): 2}
    assert _rows(f, "origin") == {("CN",): 4, ("IR",): 2, ("RU",): 2}
    assert _rows(f, "host") == {("DE",): 3, ("JP",): 2, ("FR",): 1, ("",): 2}
    assert _rows(f, "tactic") == _one(
        surveillance=3, harassment=2, interpol_abuse=1, forced_return=1, abduction=1
    )
    assert _rows(f, "method") == _one(
        threats_from_a_distance=3, direct_attack=3, co_opting_other_countries=2
    )
    assert _rows(f, "profile") == _one(activist=3, lawyer=3, diaspora_member=1)
    assert _rows(f, "involvement") == _one(unknown=4, none=1, active=2, complicit=1)
    assert _rows(f, "accusation") == {("",): 3, ("terrorism",): 3, ("extremism",): 1,
                                      ("other",): 1}  # fmt: skip
    assert f.concentration == Concentration(2, (("CN", 4), ("IR", 2)), 6, 8, tied=True)
    assert f.concentration.share == 0.75


def test_another_organisation_counts_its_own_amber_and_not_that_of_a(
    session: Session, network: Network, data_set: dict[str, str]
) -> None:
    # B counts the 13 CLEAR and GREEN incidents and its own x1 and x2; not A's c6, r1, i4 and
    # never RED.
    f = figures(session, network.analyst_b, Filters(), now=NOW)
    assert f.total == 15
    assert _rows(f, "origin") == {("CN",): 6, ("IR",): 3, ("RU",): 4, ("TR",): 2}
    assert _rows(f, "year") == {("2022",): 3, ("2023",): 7, ("2024",): 5}
    assert _rows(f, "profile") == _one(journalist=5, activist=3, lawyer=2, diaspora_member=1) | {
        ("",): 1
    }


def test_labels_decide_one_by_one(session: Session, cipher: FieldCipher, network: Network) -> None:
    """Each label against A, B, another analyst of A and the public."""
    specs = {
        tlp + by: Spec(2024, "CN", "DE", ("surveillance",), tlp, by)
        for tlp in ("clear", "green", "amber", "amber+strict", "red")
        for by in ("a", "b")
    }
    _write(session, cipher, network, specs, {})
    expected = {
        network.analyst_a: {"cleara", "clearb", "greena", "greenb", "ambera", "amber+stricta"},
        network.other_a: {"cleara", "clearb", "greena", "greenb", "ambera", "amber+stricta"},
        network.analyst_b: {"cleara", "clearb", "greena", "greenb", "amberb", "amber+strictb"},
        network.analyst_c: {"cleara", "clearb", "greena", "greenb"},
        PUBLIC: {"cleara", "clearb"},
    }
    for reader, names in expected.items():
        f = figures(session, reader, Filters(), now=NOW)
        assert f.total == len(names), reader
        assert _rows(f, "tactic") == {("surveillance",): len(names)}, reader


@dataclass(frozen=True)
class Filtered:
    """What a filter should leave: the total, and the origins and years where given."""

    total: int
    origins: Counts | None = None
    years: Counts | None = None


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (
            Filters(year_from=2023, year_to=2024),
            Filtered(
                12, {("CN",): 3, ("RU",): 4, ("IR",): 3, ("TR",): 2}, {("2023",): 6, ("2024",): 6}
            ),
        ),
        (
            Filters(year_from=2024),
            Filtered(6, {("CN",): 1, ("RU",): 1, ("IR",): 3, ("TR",): 1}, {("2024",): 6}),
        ),
        (Filters(year_to=2022), Filtered(4, {("CN",): 3, ("IR",): 1}, {("2022",): 4})),
        (
            Filters(year_from=2023, year_to=2023),
            Filtered(6, {("CN",): 2, ("RU",): 3, ("TR",): 1}),
        ),
        # Host in the European Union: DE and FR, not GB, JP or no host.
        (
            Filters(region="eu"),
            Filtered(
                11,
                {("CN",): 4, ("RU",): 3, ("IR",): 2, ("TR",): 2},
                {("2022",): 4, ("2023",): 3, ("2024",): 4},
            ),
        ),
        (Filters(region="europe"), Filtered(12, {("CN",): 4, ("RU",): 3, ("IR",): 3, ("TR",): 2})),
        (Filters(region="asia"), Filtered(2, {("CN",): 1, ("RU",): 1}, {("2023",): 2})),
        (Filters(year_from=2024, region="eu"), Filtered(4, years={("2024",): 4})),
        (Filters(region="africa"), Filtered(0, {}, {})),
    ],
)
@pytest.mark.usefixtures("data_set")
def test_filters_by_years_and_host_region(
    session: Session, network: Network, *, filters: Filters, expected: Filtered
) -> None:
    f = figures(session, network.analyst_a, filters, now=NOW)
    assert f.filters == filters
    assert f.total == expected.total
    assert f.concentration.total == expected.total
    if expected.origins is not None:
        assert _rows(f, "origin") == expected.origins
    if expected.years is not None:
        assert _rows(f, "year") == expected.years
    for name in ADDITIVE - {"profile"}:
        assert f.tables[name].total == expected.total, name


def test_the_asia_filter_keeps_every_dimension_of_the_two_incidents_in_japan(
    session: Session, network: Network, data_set: dict[str, str]
) -> None:
    f = figures(session, network.analyst_a, Filters(region="asia"), now=NOW)
    assert _rows(f, "host") == {("JP",): 2}
    assert _rows(f, "origin_host") == {("CN", "JP"): 1, ("RU", "JP"): 1}
    assert _rows(f, "tactic") == _one(surveillance=1, intimidation=1, coercion_by_proxy=1)
    assert _rows(f, "method") == _one(threats_from_a_distance=2)
    assert _rows(f, "tactic_year") == {
        ("surveillance", "2023"): 1, ("intimidation", "2023"): 1,
        ("coercion-by-proxy", "2023"): 1,
    }  # fmt: skip
    assert _rows(f, "profile") == _one(journalist=1)
    assert _rows(f, "involvement") == _one(unknown=1, none=1)
    assert _rows(f, "accusation") == {("extremism",): 1, ("state-security",): 1}


def test_the_first_and_last_years_filters_accept_can_be_used(
    session: Session, network: Network, data_set: dict[str, str]
) -> None:
    every_year = figures(session, network.analyst_a, Filters(FIRST_YEAR, LAST_YEAR), now=NOW)
    assert every_year.total == 16
    assert figures(session, network.analyst_a, Filters(year_to=LAST_YEAR), now=NOW).total == 16
    assert figures(session, network.analyst_a, Filters(year_from=LAST_YEAR), now=NOW).total == 0
    assert figures(session, network.analyst_a, Filters(year_to=FIRST_YEAR), now=NOW).total == 0


# -- the gate's one-by-one cases ------------------------------------------------------------------


def test_an_amber_incident_shared_with_a_group_of_the_reader_counts_with_all_it_holds(
    session: Session, cipher: FieldCipher, network: Network
) -> None:
    specs = {
        "plain": Spec(2023, "CN", "DE", ("spyware",), "green", "b", targets=("jo",)),
        "shared": Spec(
            2024, "RU", "FR", ("spyware", "hacking", "abduction"), "amber", "b",
            involvement="complicit", accusation="extremism", targets=("jo", "la", "nn"),
        ),
        "kept": Spec(2024, "IR", "FR", ("doxing",), "amber", "b", targets=("ac",)),
    }  # fmt: skip
    incidents, _ = _write(session, cipher, network, specs, PEOPLE)
    shared = Share("incidents", incidents["shared"], groups=[network.group_ab])
    share_record(session, network.analyst_b, shared)

    f = figures(session, network.analyst_a, Filters(), now=NOW)
    assert f.total == 2
    assert _rows(f, "origin_host") == {("CN", "DE"): 1, ("RU", "FR"): 1}
    assert _rows(f, "year") == {("2023",): 1, ("2024",): 1}
    assert _rows(f, "tactic") == _one(spyware=2, hacking=1, abduction=1)
    assert _rows(f, "tactic_year") == {
        ("spyware", "2023"): 1, ("spyware", "2024"): 1, ("hacking", "2024"): 1,
        ("abduction", "2024"): 1,
    }  # fmt: skip
    assert _rows(f, "method") == _one(threats_from_a_distance=2, direct_attack=1)
    assert _rows(f, "profile") == _one(journalist=2, lawyer=1) | {("",): 1}
    assert _rows(f, "involvement") == _one(unknown=1, complicit=1)
    assert _rows(f, "accusation") == {("",): 1, ("extremism",): 1}

    # A reader of A that does not carry the group, and C (not in AB), count the plain one only;
    # B counts all three once (its own, shared or not).
    for reader in (_brief_reader(network), network.analyst_c):
        assert figures(session, reader, Filters(), now=NOW).total == 1
    b = figures(session, network.analyst_b, Filters(), now=NOW)
    assert b.total == 3
    assert _rows(b, "tactic") == _one(spyware=2, hacking=1, abduction=1, doxing=1)
    # Outside the filter, the shared incident is not counted by the correction either.
    assert figures(session, network.analyst_a, Filters(year_to=2023), now=NOW).total == 1
    assert figures(session, network.analyst_a, Filters(region="asia"), now=NOW).total == 0


def test_a_target_who_did_not_consent_to_ngos_keeps_the_incident_from_other_ngos(
    session: Session, cipher: FieldCipher, network: Network
) -> None:
    specs = {
        "open": Spec(2024, "CN", "DE", ("spyware", "hacking"), "clear", "b", targets=("ja",)),
        "refused": Spec(
            2024, "CN", "DE", ("spyware", "hacking"), "clear", "b", involvement="active",
            targets=("jo",),
        ),
        "granted": Spec(2023, "RU", "FR", ("abduction",), "green", "b", targets=("la",)),
    }  # fmt: skip
    _, people = _write(session, cipher, network, specs, PEOPLE)
    set_consent(session, people["jo"], RecipientKind.NGO, False, actor="test")
    set_consent(session, people["jo"], RecipientKind.AUTHORITY, True, actor="test")
    set_consent(session, people["la"], RecipientKind.NGO, True, actor="test")

    a = figures(session, network.analyst_a, Filters(), now=NOW)
    assert a.total == 2
    assert _rows(a, "origin") == {("CN",): 1, ("RU",): 1}
    assert _rows(a, "tactic") == _one(spyware=1, hacking=1, abduction=1)
    assert _rows(a, "method") == _one(threats_from_a_distance=1, direct_attack=1)
    assert _rows(a, "profile") == _one(journalist=1, lawyer=1)
    assert _rows(a, "involvement") == _one(unknown=2)

    # B contributed it: the person's consent does not keep it from B.
    b = figures(session, network.analyst_b, Filters(), now=NOW)
    assert b.total == 3
    assert _rows(b, "tactic") == _one(spyware=2, hacking=2, abduction=1)
    assert _rows(b, "method") == _one(threats_from_a_distance=2, direct_attack=1)
    assert _rows(b, "profile") == _one(journalist=2, lawyer=1)
    assert _rows(b, "involvement") == _one(unknown=2, active=1)

    # The German authority was granted consent (to authorities of any state), not to NGOs.
    c = figures(session, network.analyst_c, Filters(), now=NOW)
    assert c.total == 2
    assert _rows(c, "origin") == {("CN",): 2}
    # Any consent statement keeps an incident from the public, even TLP:CLEAR.
    public = figures(session, PUBLIC, Filters(), now=NOW)
    assert public.total == 1
    assert _rows(public, "profile") == _one(journalist=1)


def test_a_red_incident_counts_for_its_named_recipients_only(
    session: Session, cipher: FieldCipher, network: Network
) -> None:
    specs = {
        "red": Spec(2022, "TR", "DE", ("spyware", "surveillance"), "red", "b", targets=("ad",)),
        "green": Spec(2022, "TR", None, ("surveillance",), "green", "a", targets=("ac",)),
    }
    incidents, _ = _write(session, cipher, network, specs, PEOPLE)
    named = Share("incidents", incidents["red"], recipients=[str(network.analyst_a.user_id)])
    share_record(session, network.analyst_b, named)

    counted = figures(session, _brief_reader(network), Filters(), now=NOW)
    assert counted.total == 2
    assert _rows(counted, "host") == {("DE",): 1, ("",): 1}
    assert _rows(counted, "tactic") == _one(surveillance=2, spyware=1)
    assert _rows(counted, "method") == _one(threats_from_a_distance=2)
    assert _rows(counted, "profile") == _one(activist=2)
    # The other analyst of A is not named; C is not either. B's analyst shared it, so is named.
    assert figures(session, network.other_a, Filters(), now=NOW).total == 1
    assert figures(session, network.analyst_c, Filters(), now=NOW).total == 1
    assert figures(session, network.analyst_b, Filters(), now=NOW).total == 2
    assert figures(session, PUBLIC, Filters(), now=NOW).total == 0


# -- response times -------------------------------------------------------------------------------

T0 = datetime(2024, 7, 1, 9, tzinfo=UTC)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
DEADLINES = Deadlines()


@dataclass(frozen=True)
class Timing:
    ack_hours: float | None
    action_days: float | None = None
    due_hours: float = 24


# Referrals to the German authority: the first six of case 1, the rest of case 2.
GERMAN = [
    Timing(1, 0.5), Timing(2), Timing(3, 2), Timing(4), Timing(6, 3.5), Timing(8),
    Timing(12), Timing(24, 10), Timing(48), Timing(96), Timing(None),
]  # fmt: skip
FRENCH = [Timing(2), Timing(30), Timing(None, due_hours=24 * 365)]
TO_B = [Timing(5, 1)]


def _report(
    session: Session, cipher: FieldCipher, handler: str, caseworker: Reader, **data: Any
) -> Report:
    body = {
        "what_happened": "Two men from the consulate waited outside my flat.",
        "tactics": ["intimidation"],
        "origin_state": "by",
        "target_name": "Zerafshan Quillmarsh-Ostrava",
        **data,
    }
    submission = Submission(handler, ReportChannel.PUBLIC_FORM, "reporter", "report-form")
    receipt = submit_report(session, cipher, ReportIn.model_validate(body), submission)
    report = session.get(Report, receipt.report_id)
    assert report is not None
    move(session, caseworker, report, ReportStatus.TRIAGED)
    move(session, caseworker, report, ReportStatus.VERIFIED)
    return report


@dataclass(frozen=True)
class Referrals:
    """Referrals of one report to one organisation, one a day from ``first_day`` after T0."""

    report: Report
    to: str
    timings: list[Timing]
    first_day: int = 0


def _refer(session: Session, caseworker: Reader, referrals: Referrals) -> None:
    report, to = referrals.report, referrals.to
    for n, timing in enumerate(referrals.timings, start=referrals.first_day):
        referral = refer(
            session, caseworker, report, to, [ReferralAsk.PROTECTION], deadlines=DEADLINES
        )
        sent = T0 + n * DAY
        referral.sent_at = sent
        referral.due_at = sent + timing.due_hours * HOUR
        if timing.ack_hours is not None:
            referral.acknowledged_at = sent + timing.ack_hours * HOUR
        if timing.action_days is not None:
            referral.action_at = sent + timing.action_days * DAY
    session.flush()


@dataclass(frozen=True)
class Casework:
    analyst_a: Reader
    analyst_b: Reader
    german: Reader
    french: Reader


@pytest.fixture
def casework(session: Session, cipher: FieldCipher) -> Casework:
    a = create_organisation(
        session, cipher, NewOrganisation("Org A", ContributorKind.NGO), actor="test"
    )
    b = create_organisation(
        session, cipher, NewOrganisation("Org B", ContributorKind.NGO), actor="test"
    )
    de = create_organisation(
        session, cipher, NewOrganisation("BKA", ContributorKind.AUTHORITY, "DE"), actor="t"
    )
    fr = create_organisation(
        session, cipher, NewOrganisation("PN", ContributorKind.AUTHORITY, "FR"), actor="t"
    )
    caseworker = _user(session, cipher, Account(a, "case@a.example", role=Role.CASEWORKER))
    first = _report(
        session,
        cipher,
        a,
        caseworker,
        occurred={"start": "2024-03-01"},
        host_state="de",
        consent=["authority", "ngo"],
    )
    second = _report(
        session,
        cipher,
        a,
        caseworker,
        occurred={"start": "2024-06-01"},
        host_state="de",
        consent=["authority"],
    )
    third = _report(
        session, cipher, a, caseworker, occurred={"start": "2023-02-01"}, host_state="fr",
        consent=["authority"],
    )  # fmt: skip
    _refer(session, caseworker, Referrals(first, de, GERMAN[:6]))
    _refer(session, caseworker, Referrals(second, de, GERMAN[6:], first_day=6))
    _refer(session, caseworker, Referrals(third, fr, FRENCH))
    _refer(session, caseworker, Referrals(first, b, TO_B))
    authority = ContributorKind.AUTHORITY
    return Casework(
        analyst_a=_user(session, cipher, Account(a, "analyst@a.example")),
        analyst_b=_user(session, cipher, Account(b, "analyst@b.example")),
        german=_user(
            session,
            cipher,
            Account(de, "analyst@de.example", kind=authority, member_state="DE"),
        ),
        french=_user(
            session,
            cipher,
            Account(fr, "analyst@fr.example", kind=authority, member_state="FR"),
        ),
    )


# acks 1 2 3 4 6 8 12 24 48 96: median (6 + 8) / 2, p90 the 9th of 10; actions 0.5 2 3.5 10.
# Overdue: acknowledged after 48 and 96 hours, and the one never acknowledged (24 is on time).
DE_ALL = Response("DE", 11, 10, 7.0, 48.0, 4, 2.75, 10.0, 3)
# acks 2 and 30 hours; the unacknowledged one is not due yet.
FR_ALL = Response("FR", 3, 2, 16.0, 30.0, 0, None, None, 1)
NGO = Response("", 1, 1, 5.0, 5.0, 1, 1.0, 1.0, 0)
# Case 1 alone: acks 1 2 3 4 6 8 (p90 the 6th of 6), actions 0.5 2 3.5 (p90 the 3rd).
DE_FIRST = Response("DE", 6, 6, 3.5, 8.0, 3, 2.0, 3.5, 0)


def test_response_times_per_member_state_of_the_recipient(
    session: Session, casework: Casework
) -> None:
    f = figures(session, casework.analyst_a, Filters(), now=T0 + 60 * DAY)
    assert f.response == (DE_ALL, FR_ALL, NGO)
    assert [r.overdue_share for r in f.response] == [3 / 11, 1 / 3, 0.0]
    assert f.total == 3  # the reports' incidents, AMBER+STRICT of A


@pytest.mark.parametrize(
    ("who", "filters", "expected"),
    [
        ("analyst_a", Filters(year_from=2024), (DE_ALL, NGO)),
        ("analyst_a", Filters(year_to=2023), (FR_ALL,)),
        ("analyst_a", Filters(region="eu", year_to=2023), (FR_ALL,)),
        ("analyst_a", Filters(region="asia"), ()),
        # B was referred case 1 (its target consented to NGOs): every referral of that case.
        ("analyst_b", Filters(), (DE_FIRST, NGO)),
        # The German authority was referred cases 1 and 2, the French one case 3.
        ("german", Filters(), (DE_ALL, NGO)),
        ("french", Filters(), (FR_ALL,)),
        ("public", Filters(), ()),
    ],
)
def test_response_times_cover_the_cases_the_reader_may_count(
    session: Session, casework: Casework, who: str, filters: Filters, expected: tuple[Response, ...]
) -> None:
    reader = PUBLIC if who == "public" else getattr(casework, who)
    assert figures(session, reader, filters, now=T0 + 60 * DAY).response == expected


def test_no_referrals_no_response_times(
    session: Session, cipher: FieldCipher, network: Network, data_set: dict[str, str]
) -> None:
    caseworker = _user(session, cipher, Account(network.a, "case@a.example", role=Role.CASEWORKER))
    _report(session, cipher, network.a, caseworker, occurred={"start": "2024-03-01"})
    f = figures(session, network.analyst_a, Filters(), now=NOW)
    assert f.total == 17
    assert f.response == ()


# -- the property: every table is a direct recount through the gate ------------------------------

TACTICS = ("surveillance", "spyware", "hacking", "harassment", "abduction", "interpol-abuse")
ORIGINS = ("CN", "RU", "IR")
# Weighted towards what the one-by-one cases need: labels that do not reach everyone, and
# Germany (where the urgent cases reach the German authority).
TLPS = (Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER, Tlp.AMBER, Tlp.AMBER_STRICT, Tlp.RED, Tlp.RED)
HOSTS = ("DE", "DE", "FR", "GB", "JP", None)
PROFILES = ("journalist", "activist", None)
ROLES = (PersonRole.TARGET, PersonRole.RELATIVE_TARGETED, PersonRole.WITNESS)
GRANTS: tuple[tuple[RecipientKind, str], ...] = (
    (RecipientKind.NGO, ""),
    (RecipientKind.AUTHORITY, ""),
    (RecipientKind.AUTHORITY, "DE"),
    (RecipientKind.AUTHORITY, "FR"),
    (RecipientKind.EU_BODY, ""),
)


@dataclass(frozen=True)
class PersonPlan:
    profile: str | None
    consent: frozenset[int] | None  # indexes into GRANTS; None: no statement made


@dataclass(frozen=True)
class IncidentPlan:
    by: int  # 0 A, 1 B, 2 C
    tlp: Tlp
    cleared: bool
    year: int
    origin: str
    host: str | None
    tactics: tuple[str, ...]
    involvement: str
    accusation: str | None
    links: tuple[tuple[int, PersonRole], ...]  # (person, role)
    groups: frozenset[int]  # 0 AB, 1 BC
    recipients: frozenset[int]  # indexes into Network.users
    report: tuple[bool, int | None] | None  # (urgent, referred to organisation)


@dataclass(frozen=True)
class World:
    people: tuple[PersonPlan, ...]
    incidents: tuple[IncidentPlan, ...]
    filters: Filters
    top_n: int


# What may send an incident through the gate one by one. Most incidents get one of them alone, so
# that each case decides an incident by itself often; "mixed" draws all of them at random.
FEATURES = ("plain", "share", "recipient", "report", "urgent", "consent", "mixed")
# Labels that a share, a named recipient or a report can widen, mostly.
LABELS = {
    "share": (Tlp.AMBER, Tlp.AMBER, Tlp.AMBER_STRICT, Tlp.CLEAR),
    "recipient": (Tlp.RED, Tlp.RED, Tlp.AMBER, Tlp.GREEN),
    "report": (Tlp.AMBER_STRICT, Tlp.AMBER, Tlp.RED, Tlp.GREEN),
    "urgent": (Tlp.AMBER_STRICT, Tlp.AMBER, Tlp.RED, Tlp.GREEN),
    # Consent only matters where the label would let the reader count the incident.
    "consent": (Tlp.CLEAR, Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER),
}
FREE_PEOPLE = 2  # the first people of a world made no consent statement; the others did


@st.composite
def _incident_plans(draw: st.DrawFn, people: int) -> IncidentPlan:
    feature = draw(st.sampled_from(FEATURES))
    mixed = feature == "mixed"
    free = st.tuples(st.integers(0, FREE_PEOPLE - 1), st.sampled_from(ROLES))
    stated = st.tuples(
        st.integers(FREE_PEOPLE, people - 1),
        st.sampled_from((PersonRole.TARGET, PersonRole.RELATIVE_TARGETED)),
    )
    anyone = st.tuples(st.integers(0, people - 1), st.sampled_from(ROLES))
    links = draw(st.lists(anyone if mixed else free, max_size=3, unique=True))
    if feature == "consent":
        links += draw(st.lists(stated, min_size=1, max_size=2, unique=True))
    groups = st.frozensets(st.integers(0, 1), min_size=0 if mixed else 1)
    recipients = st.frozensets(st.integers(0, 3), min_size=0 if mixed else 1, max_size=2)
    report: tuple[bool, int | None] | None = None
    if feature == "report":  # referred to an organisation (if not the contributor)
        report = draw(st.tuples(st.booleans(), st.integers(0, 2)))
    elif feature == "urgent":  # reported as urgent, in Germany, referred to nobody
        report = (True, None)
    elif mixed:
        report = draw(st.none() | st.tuples(st.booleans(), st.none() | st.integers(0, 2)))
    return IncidentPlan(
        by=draw(st.integers(0, 2)),
        tlp=draw(st.sampled_from(LABELS.get(feature, TLPS))),
        cleared=draw(st.booleans()),
        year=draw(st.integers(2021, 2024)),
        origin=draw(st.sampled_from(ORIGINS)),
        host="DE" if feature == "urgent" else draw(st.sampled_from(HOSTS)),
        tactics=tuple(
            sorted(draw(st.frozensets(st.sampled_from(TACTICS), min_size=1, max_size=3)))
        ),
        involvement=draw(st.sampled_from(["unknown", "none", "active"])),
        accusation=draw(st.sampled_from([None, "terrorism", "fraud"])),
        links=tuple(dict.fromkeys(links)),
        groups=draw(groups) if feature in {"share", "mixed"} else frozenset(),
        recipients=draw(recipients) if feature in {"recipient", "mixed"} else frozenset(),
        report=report,
    )


@st.composite
def _worlds(draw: st.DrawFn) -> World:
    people = tuple(
        PersonPlan(
            draw(st.sampled_from(PROFILES)),
            None if n < FREE_PEOPLE else draw(st.frozensets(st.integers(0, len(GRANTS) - 1))),
        )
        for n in range(FREE_PEOPLE + draw(st.integers(1, 2)))
    )
    incidents = tuple(draw(st.lists(_incident_plans(len(people)), min_size=1, max_size=10)))
    year_from = draw(st.none() | st.integers(2021, 2024))
    year_to = draw(st.none() | st.integers(year_from or 2021, 2024))
    region = draw(st.sampled_from([None, "eu", "asia", "europe"]))
    return World(people, incidents, Filters(year_from, year_to, region), draw(st.integers(1, 3)))


def _build(session: Session, cipher: FieldCipher, network: Network, world: World) -> None:
    system = _writer(session, cipher, SYSTEM_CONTRIBUTOR_ID)
    person_ids = [
        system.add_person(parse(PersonIn, {"profile": plan.profile})) for plan in world.people
    ]
    system.flush()
    for person_id, stated in zip(person_ids, world.people, strict=True):
        if stated.consent is None:
            continue
        # A statement granting nothing is recorded as a refusal of NGOs.
        statements = [(*GRANTS[g], True) for g in sorted(stated.consent)]
        rows = [
            {"person_id": person_id, "recipient_kind": kind.value, "member_state": state,
             "granted": granted, "updated_at": NOW}
            for kind, state, granted in statements or [(RecipientKind.NGO, "", False)]
        ]  # fmt: skip
        session.execute(insert(Consent), rows)
    writers = [_writer(session, cipher, org) for org in network.organisations]
    groups = (network.group_ab, network.group_bc)
    for n, plan in enumerate(world.incidents):
        writer = writers[plan.by]
        spec = Spec(
            plan.year,
            plan.origin,
            plan.host,
            plan.tactics,
            plan.tlp.value,
            cleared=plan.cleared,
            involvement=plan.involvement,
            accusation=plan.accusation,
        )
        incident_id = writer.add_incident(_incident_in(spec, f"incident {n}"))
        for person, role in plan.links:
            # A relative is targeted on behalf of another (free) person of the world.
            aimed_at = person_ids[1 if person == 0 else 0]
            behalf = aimed_at if role is PersonRole.RELATIVE_TARGETED else None
            writer.link_person(incident_id, person_ids[person], role, on_behalf_of=behalf)
        writer.flush()
        shares = [
            {"entity": "incidents", "record_id": incident_id, "group_id": groups[g]}
            for g in sorted(plan.groups)
        ]
        if shares:
            session.execute(insert(RecordShare), shares)
        named = [
            {"entity": "incidents", "record_id": incident_id, "user_id": network.users[u].user_id}
            for u in sorted(plan.recipients)
        ]
        if named:
            session.execute(insert(RecordRecipient), named)
        if plan.report is not None:
            _add_report(session, network, plan, incident_id, person_ids[0])
    session.flush()


def _add_report(
    session: Session, network: Network, plan: IncidentPlan, incident_id: str, person_id: str
) -> None:
    urgent, referred_to = plan.report or (False, None)
    report_id = new_id()
    session.add(
        Report(
            id=report_id,
            receipt_hash=hashlib.sha256(report_id.encode()).hexdigest(),
            handled_by=network.organisations[plan.by],
            incident_id=incident_id,
            person_id=person_id,
            channel=ReportChannel.API,
            status=ReportStatus.VERIFIED,
            urgent=urgent,
            relation=ReporterRelation.SELF,
            perpetrator_kind=PerpetratorKind.UNKNOWN,
            language="en",
            received_at=NOW,
            updated_at=NOW,
        )
    )
    session.flush()
    if referred_to is not None and referred_to != plan.by:
        session.add(
            Referral(
                report_id=report_id,
                to_organisation=network.organisations[referred_to],
                asks=["protection"],
                status=ReferralStatus.SENT,
                sent_at=NOW - 2 * DAY,
                sent_by="test",
                due_at=NOW - DAY,
                acknowledged_at=NOW - 36 * HOUR if urgent else None,
            )
        )


def _code(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, str):
        return value
    return str(int(value))


def _recount(session: Session, reader: Reader, filters: Filters) -> dict[str, Counter[Any]]:
    """Each table counted straight from the incidents the gate lets the reader count."""
    year = func.extract("year", Incident.occurred_start)
    conditions: list[ColumnElement[bool]] = [counted(reader)]
    if filters.year_from is not None:
        conditions.append(year >= filters.year_from)
    if filters.year_to is not None:
        conditions.append(year <= filters.year_to)
    if filters.region is not None:
        conditions.append(Incident.host_state.in_(sorted(region_states(filters.region))))

    def grouped(*columns: Any, joins: tuple[tuple[Any, Any], ...] = ()) -> Counter[Any]:
        query = select(*columns, func.count()).select_from(Incident)
        for target, on in joins:
            query = query.join(target, on)
        counts: Counter[Any] = Counter()
        for row in session.execute(query.where(*conditions).group_by(*columns)):
            counts[tuple(_code(v) for v in row[:-1])] += int(row[-1])
        return counts

    tactics = ((IncidentTactic, IncidentTactic.incident_id == Incident.id),)
    # An alias: the gate's consent look-up reads incident_people too, and must not correlate.
    link = aliased(IncidentPerson)
    targets = (
        (link, (link.incident_id == Incident.id) & (link.role == PersonRole.TARGET)),
        (Person, Person.id == link.person_id),
    )
    methods: Counter[Any] = Counter()
    method_query = (
        select(TacticMethod.method, func.count(func.distinct(Incident.id)))
        .select_from(Incident)
        .join(IncidentTactic, IncidentTactic.incident_id == Incident.id)
        .join(TacticMethod, TacticMethod.tactic == IncidentTactic.tactic)
        .where(*conditions)
        .group_by(TacticMethod.method)
    )
    for method, n in session.execute(method_query):
        methods[(method,)] = int(n)
    return {
        "year": grouped(year),
        "origin": grouped(Incident.origin_state),
        "host": grouped(Incident.host_state),
        "origin_host": grouped(Incident.origin_state, Incident.host_state),
        "tactic": grouped(IncidentTactic.tactic, joins=tactics),
        "method": methods,
        "tactic_year": grouped(IncidentTactic.tactic, year, joins=tactics),
        "profile": grouped(Person.profile, joins=targets),
        "involvement": grouped(Incident.host_involvement),
        "accusation": grouped(Incident.accusation),
    }


def _check(session: Session, reader: Reader, filters: Filters, top_n: int) -> None:
    f = figures(session, reader, filters, presentation=Presentation(top_n=top_n), now=NOW)
    expected = _recount(session, reader, filters)
    for name in TABLES:
        rows = f.tables[name].rows
        assert dict(rows) == dict(expected[name]), (reader.organisation_id, name)
        assert all(count > 0 for _, count in rows), name
        assert f.tables[name].total == (sum(expected[name].values()) if name in ADDITIVE else None)
    total = sum(expected["year"].values())
    assert f.total == total
    ranked = sorted(((key[0], n) for key, n in expected["origin"].items()),
                    key=lambda item: (-item[1], item[0]))  # fmt: skip
    top = tuple(ranked[:top_n])
    tied = len(ranked) > top_n and ranked[top_n][1] == top[-1][1]
    assert f.concentration == Concentration(top_n, top, sum(n for _, n in top), total, tied)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(world=_worlds())
def test_every_table_is_a_direct_recount_of_what_the_gate_lets_the_reader_count(
    session: Session, cipher: FieldCipher, network: Network, world: World
) -> None:
    # One network of organisations and users for every example; each example's records are
    # written inside a savepoint and rolled back, so the next one starts from no incidents.
    savepoint = session.begin_nested()
    try:
        _build(session, cipher, network, world)
        for reader in (*network.users, PUBLIC):
            for filters in {Filters(), world.filters}:
                _check(session, reader, filters, world.top_n)
    finally:
        savepoint.rollback()
    assert session.scalar(select(func.count()).select_from(Incident)) == 0
