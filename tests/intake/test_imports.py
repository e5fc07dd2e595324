"""Spreadsheet imports: reading CSV and XLSX, checking every row, writing all or nothing, and
importing the same file again without adding anything."""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from haven.access.accounts import NewOrganisation, create_organisation
from haven.crypto.fields import FieldCipher
from haven.domain.enums import ContributorKind, DatePrecision, HostInvolvement, PersonRole, Tlp
from haven.errors import ValidationFailed
from haven.intake.imports import (
    FREEDOM_HOUSE,
    HAVEN_COLUMNS,
    Checked,
    Mapping,
    check,
    load_mapping,
    row_key,
    run_import,
)
from haven.intake.models import ImportedRow
from haven.registry.models import Incident, IncidentPerson, IncidentTactic, Person
from haven.registry.sealed import sealed_context
from haven.registry.writer import Actor
from haven.runtime import Runtime

FH_HEADER = (
    "Year,Origin Country,Host Country,Tactic,Target Profile,Host Country Involvement,Sources\n"
)
GOOD_ROWS = (
    "2019,China,Turkey,Detention,Activist,yes,https://example.org/secret-source-one\n"
    "2021,RU,DE,Assassination; Surveillance,journalist,active,\n"
    "2022,Tajikistan,Russia,spyware,,,\n"
)
SECRET = "secret-source-one"


def _organisation(runtime: Runtime, cipher: FieldCipher, name: str = "Exile Legal Aid") -> str:
    with runtime.transaction() as session:
        return create_organisation(
            session, cipher, NewOrganisation(name, ContributorKind.NGO), actor="t"
        )


def _import(
    runtime: Runtime, cipher: FieldCipher, organisation: str, data: bytes, mapping: Mapping
) -> tuple[int, int]:
    checked = check(data, mapping)
    assert checked.ok, [p.describe() for p in checked.problems]
    with runtime.transaction() as session:
        counts = run_import(
            session, cipher, Actor(organisation, "test:import", "test"), checked.rows
        )
    return counts.imported, counts.already


def _count(runtime: Runtime, model: type) -> int:
    with runtime.reading() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _narrative(cipher: FieldCipher, incident: Incident) -> str:
    assert incident.narrative is not None
    context = sealed_context("incidents", "narrative", incident.id)
    return cipher.decrypt(incident.narrative, context).decode()


def _xlsx(rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _by_year(session: Session) -> dict[int, Incident]:
    incidents = session.scalars(select(Incident)).all()
    return {incident.occurred_start.year: incident for incident in incidents}


def _tactics(session: Session, incident_id: str) -> list[str]:
    return sorted(
        session.scalars(
            select(IncidentTactic.tactic).where(IncidentTactic.incident_id == incident_id)
        )
    )


def _assert_good_rows_stored(runtime: Runtime, cipher: FieldCipher, organisation: str) -> None:
    with runtime.reading() as session:
        incidents = _by_year(session)
        assert sorted(incidents) == [2019, 2021, 2022]
        first = incidents[2019]
        assert (first.origin_state, first.host_state) == ("CN", "TR")
        assert first.occurred_start == date(2019, 1, 1)
        assert first.occurred_precision == DatePrecision.YEAR.value
        assert first.host_involvement == HostInvolvement.COMPLICIT.value
        assert first.tlp == Tlp.AMBER.value
        assert first.contributor_id == organisation
        assert first.title == "Imported: 2019 CN→TR"
        assert _narrative(cipher, first) == "Sources: https://example.org/secret-source-one"
        assert _tactics(session, first.id) == ["arrest-misuse"]
        second = incidents[2021]
        assert _tactics(session, second.id) == ["surveillance", "targeted-killing"]
        assert second.host_involvement == HostInvolvement.ACTIVE.value
        assert second.narrative is None
        third = incidents[2022]
        assert (third.origin_state, third.host_state) == ("TJ", "RU")
        assert third.host_involvement == HostInvolvement.UNKNOWN.value
        links = session.execute(
            select(IncidentPerson.incident_id, IncidentPerson.role, Person.profile, Person.tlp)
            .join(Person, Person.id == IncidentPerson.person_id)
            .order_by(Person.profile)
        ).all()
        assert [(link.incident_id, link.role, link.profile, link.tlp) for link in links] == [
            (first.id, PersonRole.TARGET.value, "activist", "amber"),
            (second.id, PersonRole.TARGET.value, "journalist", "amber"),
        ]
        people = session.scalars(select(Person)).all()
        assert all(person.identity is None for person in people)


def test_a_freedom_house_csv_imports_every_row_with_its_fields(
    runtime: Runtime, cipher: FieldCipher
) -> None:
    organisation = _organisation(runtime, cipher)
    assert _import(
        runtime, cipher, organisation, (FH_HEADER + GOOD_ROWS).encode(), FREEDOM_HOUSE
    ) == (
        3,
        0,
    )
    assert _count(runtime, Incident) == 3
    assert _count(runtime, Person) == 2
    assert _count(runtime, ImportedRow) == 3
    _assert_good_rows_stored(runtime, cipher, organisation)


def test_a_freedom_house_xlsx_imports_every_row_with_its_fields(
    runtime: Runtime, cipher: FieldCipher
) -> None:
    organisation = _organisation(runtime, cipher)
    header = [h.strip() for h in FH_HEADER.split(",")]
    data = _xlsx(
        [
            [f"  {h.upper()} " for h in header],  # headers match whatever their case and spaces
            [
                2019,
                "China",
                "Turkey",
                "Detention",
                "Activist",
                "yes",
                f"https://example.org/{SECRET}",
            ],
            [],
            [2021.0, "RU", "DE", "Assassination; Surveillance", "journalist", "active", None],
            [2022, "Tajikistan", "Russia", "spyware", None, None, None],
        ]
    )
    checked = check(data, FREEDOM_HOUSE)
    assert checked.format == "XLSX"
    assert [row.line for row in checked.rows] == [2, 4, 5]  # the empty line 3 is skipped
    assert _import(runtime, cipher, organisation, data, FREEDOM_HOUSE) == (3, 0)
    assert _count(runtime, Incident) == 3
    _assert_good_rows_stored(runtime, cipher, organisation)


def test_a_csv_with_one_bad_row_imports_nothing_and_names_the_row(
    runtime: Runtime, cipher: FieldCipher
) -> None:
    data = (
        FH_HEADER
        + "2019,China,Turkey,Detention,Activist,yes,https://example.org/a\n"
        + "2020,Narnia,DE,Assault,journalist,,\n"
        + "2021,RU,DE,Assault,journalist,,\n"
    ).encode()
    checked = check(data, FREEDOM_HOUSE)
    assert not checked.ok
    assert [problem.describe() for problem in checked.problems] == [
        'line 3: Origin Country: unknown country "Narnia" (use an ISO 3166-1 code such as TR '
        "or an English name such as Turkey)"
    ]
    assert checked.summary() == "1 problem in 1 of 3 rows; nothing was imported"
    assert _count(runtime, Incident) == 0


def test_every_bad_row_is_listed_without_quoting_what_could_name_someone(
    runtime: Runtime, cipher: FieldCipher
) -> None:
    mapping = Mapping.of(
        "test",
        {
            "year": "Year",
            "date": "Date",
            "origin_state": "From",
            "host_state": "In",
            "tactic": "What",
            "target_profile": "Who",
            "host_involvement": "Host",
            "narrative": "Story",
            "sources": "Sources",
        },
    )
    data = (
        "Year,Date,From,In,What,Who,Host,Story,Sources\n"
        "2019,,CN,TR,Detention,activist,no,fine,\n"
        ",,CN,TR,Detention,,,Leyla Kaya was followed,\n"  # 3: no year
        "2019,2020-02-30,CN,TR,Detention,,,,\n"  # 4: no such date
        "2019,2018-05-01,CN,TR,Detention,,,,\n"  # 5: year and date disagree
        "2999,,CN,TR,Detention,,,,\n"  # 6: in the future
        "2019,,,TR,Detention,,,,\n"  # 7: no origin
        "2019,,CN,TR,,,,,\n"  # 8: no tactic
        "2019,,CN,TR,Poisoning; Detention,,,,\n"  # 9: unknown tactic
        "2019,,CN,TR,Detention,Mehmet Öz,,,\n"  # 10: a name in the profile column
        "2019,,CN,TR,Detention,,Mehmet Öz,,\n"  # 11: a name in the involvement column
        '2019,,CN,TR,Detention,,,"Leyla Kaya\x07",\n'  # 12: a control character
        "2019,,CN,TR,Detention,,,,,Leyla Kaya\n"  # 13: one cell too many
    ).encode()
    checked = check(data, mapping)
    lines = sorted({problem.line for problem in checked.problems})
    assert lines == list(range(3, 14))
    assert [row.line for row in checked.rows] == [2]
    reasons = "\n".join(problem.describe() for problem in checked.problems)
    assert "line 3: Year or Date: empty" in reasons
    assert "line 4: Date: not a date" in reasons
    assert "line 5: Year and Date disagree" in reasons
    assert "line 6: Year: not a year" in reasons
    assert "line 7: From: empty" in reasons
    assert "line 8: What: empty" in reasons
    assert 'line 9: What: unknown tactic "Poisoning"' in reasons
    assert "line 10: Who: unknown target profile" in reasons
    assert "line 11: Host: unknown host-state involvement" in reasons
    assert "line 12: Story: holds control characters" in reasons
    assert "line 13: the row has more cells than the header line has columns" in reasons
    for name in ("Leyla", "Mehmet", "Kaya"):
        assert name not in reasons
    assert checked.summary() == "11 problems in 11 of 12 rows; nothing was imported"


def test_a_failure_while_writing_leaves_nothing_behind(
    runtime: Runtime, cipher: FieldCipher
) -> None:
    organisation = _organisation(runtime, cipher)
    checked = check((FH_HEADER + GOOD_ROWS).encode(), FREEDOM_HOUSE)
    seen: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:
        seen.append((done, total))
        if done == 3:
            raise RuntimeError("interrupted")

    with (
        pytest.raises(RuntimeError, match="interrupted"),
        runtime.transaction() as session,
    ):
        run_import(session, cipher, Actor(organisation, "test"), checked.rows, progress=progress)
    assert seen == [(1, 3), (2, 3), (3, 3)]
    assert _count(runtime, Incident) == 0
    assert _count(runtime, Person) == 0
    assert _count(runtime, ImportedRow) == 0


def test_importing_the_same_file_again_creates_nothing_new(
    runtime: Runtime, cipher: FieldCipher
) -> None:
    organisation = _organisation(runtime, cipher)
    data = (FH_HEADER + GOOD_ROWS).encode()
    assert _import(runtime, cipher, organisation, data, FREEDOM_HOUSE) == (3, 0)
    assert _import(runtime, cipher, organisation, data, FREEDOM_HOUSE) == (0, 3)
    # The same rows as XLSX, with country codes for names, are the same rows.
    header = [h.strip() for h in FH_HEADER.split(",")]
    same = _xlsx(
        [
            header,
            [2019, "CN", "TR", "detention", "activist", "Yes", f"https://example.org/{SECRET}"],
            [2021, "RU", "DE", "targeted-killing;surveillance", "Journalist", "active", None],
            [2022, "TJ", "RU", "Spyware", None, "", None],
        ]
    )
    assert _import(runtime, cipher, organisation, same, FREEDOM_HOUSE) == (0, 3)
    # One more row in the file: only it is new.
    more = (FH_HEADER + GOOD_ROWS + "2023,Iran,Canada,Assault,lawyer,none,\n").encode()
    assert _import(runtime, cipher, organisation, more, FREEDOM_HOUSE) == (1, 3)
    assert _count(runtime, Incident) == 4
    # Another organisation's import of the same file is its own.
    other = _organisation(runtime, cipher, "Other NGO")
    assert _import(runtime, cipher, other, data, FREEDOM_HOUSE) == (3, 0)
    assert _count(runtime, Incident) == 7


def test_two_identical_rows_in_one_file_both_import_once(
    runtime: Runtime, cipher: FieldCipher
) -> None:
    organisation = _organisation(runtime, cipher)
    row = "2020,China,Turkey,Rendition,Activist,no,https://example.org/report\n"
    data = (FH_HEADER + row + row).encode()
    checked = check(data, FREEDOM_HOUSE)
    assert [item.occurrence for item in checked.rows] == [0, 1]
    keys = {row_key(cipher, organisation, item) for item in checked.rows}
    assert len(keys) == 2
    assert all(re.fullmatch(r"[0-9a-f]{64}", key) for key in keys)
    assert _import(runtime, cipher, organisation, data, FREEDOM_HOUSE) == (2, 0)
    assert _import(runtime, cipher, organisation, data, FREEDOM_HOUSE) == (0, 2)
    # A third copy in a later file is new; the first two are not.
    assert _import(runtime, cipher, organisation, data + row.encode(), FREEDOM_HOUSE) == (1, 2)
    assert _count(runtime, Incident) == 3
    with runtime.reading() as session:
        tactics = session.scalars(select(IncidentTactic.tactic)).all()
    assert set(tactics) == {"abduction"}  # rendition's canonical tactic


def test_a_custom_json_mapping_with_dates_titles_and_narratives(
    runtime: Runtime, cipher: FieldCipher, tmp_path: Path
) -> None:
    path = tmp_path / "mapping.json"
    path.write_text(
        json.dumps(
            {
                "date": "Wann",
                "origin_state": "Herkunft",
                "host_state": "Gastland",
                "tactic": "Taktik",
                "target_profile": "Profil",
                "title": "Titel",
                "narrative": "Bericht",
                "sources": "Quellen",
            }
        )
    )
    mapping = load_mapping(str(path))
    data = (
        "\ufeffWann;Herkunft;Gastland;Taktik;Profil;Titel;Bericht;Quellen\n"
        "2023-04-05;Egypt;Germany;Threats and intimidation;Human-rights defender;Threat calls;"
        '"Calls at night;\nthen a visit";Interview\n'
        "2024-01-31;Belarus;PL;doxing;;;;\n"
    ).encode()
    checked = check(data, mapping, tlp=Tlp.AMBER_STRICT)
    assert checked.ok, checked.problems
    organisation = _organisation(runtime, cipher)
    with runtime.transaction() as session:
        counts = run_import(session, cipher, Actor(organisation, "test"), checked.rows)
    assert (counts.imported, counts.already) == (2, 0)
    with runtime.reading() as session:
        incidents = {i.origin_state: i for i in session.scalars(select(Incident))}
        egypt = incidents["EG"]
        assert egypt.title == "Threat calls"
        assert egypt.occurred_start == date(2023, 4, 5)
        assert egypt.occurred_precision == "day"
        assert egypt.tlp == "amber+strict"
        assert _narrative(cipher, egypt) == "Calls at night;\nthen a visit\n\nSources: Interview"
        assert _tactics(session, egypt.id) == ["intimidation"]
        belarus = incidents["BY"]
        assert belarus.title == "Imported: 2024 BY→PL"
        assert belarus.occurred_start == date(2024, 1, 31)
        profiles = session.scalars(select(Person.profile)).all()
        assert profiles == ["human-rights-defender"]


def test_xlsx_dates_and_the_haven_columns_mapping() -> None:
    data = _xlsx(
        [
            ["origin_state", "tactic", "date", "host_involvement"],
            ["IR", "hacking", datetime(2022, 7, 1), "Complicit"],
        ]
    )
    checked = check(data, HAVEN_COLUMNS)
    assert checked.ok, checked.problems
    (row,) = checked.rows
    assert row.incident.occurred.start == date(2022, 7, 1)
    assert row.incident.host_involvement is HostInvolvement.COMPLICIT
    assert row.target is None


def test_a_header_missing_from_the_sheet_is_refused_before_any_row() -> None:
    data = (
        b"Year,Origin Country,Tactic,Target Profile,Host Country Involvement,Sources\n"
        b"2019,Nowhere,Detention,,,\n"
    )
    with pytest.raises(ValidationFailed) as refused:
        check(data, FREEDOM_HOUSE)
    assert 'no column "Host Country" (for host_state)' in refused.value.message
    assert '"Origin Country"' in str(refused.value.hint)
    with pytest.raises(ValidationFailed, match='no column "origin_state"'):
        check(b"year,tactic\n2020,spyware\n", HAVEN_COLUMNS)
    with pytest.raises(ValidationFailed, match="more than once"):
        check(
            b"Year,Origin Country,Host Country,Tactic,Target Profile,Host Country "
            b"Involvement,Sources,year\n2019,CN,TR,Detention,,,,\n",
            FREEDOM_HOUSE,
        )


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ('{"year": "Y", "origin_state": "O", "tactic": "T", "victim_name": "N"}', "unknown"),
        ('{"origin_state": "O", "tactic": "T"}', "year or date"),
        ('{"year": "Y", "origin_state": "O", "tactic": "o"}', "same column"),
        ('["year", "origin_state"]', "one JSON object"),
        ("{not json", "not valid JSON"),
    ],
)
def test_a_bad_mapping_file_is_refused_clearly(tmp_path: Path, mapping: str, message: str) -> None:
    path = tmp_path / "mapping.json"
    path.write_text(mapping)
    with pytest.raises(ValidationFailed, match=message):
        load_mapping(str(path))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01", "neither an XLSX workbook nor"),
        (bytes(range(256)) * 4, "neither an XLSX workbook nor"),
        ("Year,Origin\n2020,CN\n".encode("utf-16"), "neither an XLSX workbook nor"),
        (b"PK\x03\x04" + b"\x00" * 64, "not an XLSX workbook"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, r"old binary Excel file \(.xls\)"),
        (b"", "column headers"),
        (FH_HEADER.encode(), "no rows below its header line"),
    ],
)
def test_a_file_that_is_no_spreadsheet_is_refused_by_its_content(data: bytes, message: str) -> None:
    with pytest.raises(ValidationFailed, match=message):
        check(data, FREEDOM_HOUSE)


@pytest.mark.parametrize(
    ("name", "message"),
    [("hello.txt", "a ZIP archive but not an XLSX workbook"), ("xl/workbook.xml", "damaged")],
)
def test_a_zip_that_is_not_a_workbook_is_refused(name: str, message: str) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, "<not a workbook")
    with pytest.raises(ValidationFailed, match=message):
        check(buffer.getvalue(), FREEDOM_HOUSE)


def test_sources_and_narratives_are_encrypted_at_rest(
    runtime: Runtime, cipher: FieldCipher, session: Session
) -> None:
    organisation = create_organisation(
        session, cipher, NewOrganisation("Exile Legal Aid", ContributorKind.NGO), actor="t"
    )
    data = (
        "year,origin_state,tactic,narrative,sources\n"
        "2020,CN,surveillance,Followed outside the consulate-narrative-marker,"
        f"https://example.org/{SECRET}\n"
    ).encode()
    checked: Checked = check(data, HAVEN_COLUMNS)
    run_import(session, cipher, Actor(organisation, "test"), checked.rows)
    session.flush()
    rows = session.execute(text("SELECT * FROM incidents")).all()
    assert len(rows) == 1
    stored = b"".join(
        value if isinstance(value, bytes) else str(value).encode() for value in rows[0]
    )
    assert SECRET.encode() not in stored
    assert b"narrative-marker" not in stored
    assert b"Imported: 2020 CN" in stored
    incident = session.scalars(select(Incident)).one()
    assert SECRET in _narrative(cipher, incident)
