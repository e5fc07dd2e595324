"""``haven import``: a dry run lists every bad row, a real import writes all rows or none, and
running it again adds nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from haven.intake.models import ImportedRow
from haven.registry.models import Incident
from haven.runtime import Runtime

Cli = Callable[..., Any]

HEADER = "Year,Origin Country,Host Country,Tactic,Target Profile,Host Country Involvement,Sources\n"
GOOD = (
    "2019,China,Turkey,Detention,Activist,yes,https://example.org/one\n"
    "2021,RU,DE,Assassination,journalist,active,\n"
    "2022,Tajikistan,Russia,spyware,,,\n"
)


def _incidents(runtime: Runtime) -> int:
    with runtime.reading() as session:
        return int(session.scalar(select(func.count()).select_from(Incident)) or 0)


@pytest.fixture
def organisation(cli: Cli) -> str:
    created = cli("orgs", "create", "Exile Legal Aid", "--kind", "ngo")
    assert created.code == 0, created.err
    return "Exile Legal Aid"


def test_a_dry_run_lists_every_bad_row_and_writes_nothing(
    cli: Cli, runtime: Runtime, organisation: str, tmp_path: Path
) -> None:
    sheet = tmp_path / "incidents.csv"
    sheet.write_text(
        HEADER
        + "2019,China,Turkey,Detention,Activist,yes,https://example.org/one\n"
        + "2020,Narnia,DE,Assault,journalist,,\n"
        + "2021,RU,DE,Poisoning,journalist,,\n"
    )
    outcome = cli("import", str(sheet), "--organisation", organisation, "--dry-run")
    assert outcome.code == 2
    assert outcome.out.splitlines() == [
        'line 3: Origin Country: unknown country "Narnia" (use an ISO 3166-1 code such as TR or '
        "an English name such as Turkey)",
        'line 4: Tactic: unknown tactic "Poisoning" (use a taxonomy tactic code or label, or a '
        "Freedom House category such as Detention)",
    ]
    assert outcome.err.count("\n") == 1
    assert "2 problems in 2 of 3 rows; nothing was imported" in outcome.err
    # Without --dry-run, nothing is written either.
    real = cli("import", str(sheet), "--organisation", organisation)
    assert real.code == 2
    assert "line 3:" in real.out
    assert _incidents(runtime) == 0


def test_an_import_prints_the_count_and_running_it_again_adds_nothing(
    cli: Cli, runtime: Runtime, organisation: str, tmp_path: Path
) -> None:
    sheet = tmp_path / "incidents.csv"
    sheet.write_text(HEADER + GOOD)
    dry = cli("import", str(sheet), "--organisation", organisation, "--dry-run")
    assert dry.code == 0, dry.err
    assert "3 would be imported (0 already imported); nothing was written" in dry.out
    assert _incidents(runtime) == 0

    first = cli("import", str(sheet), "--org", organisation, "--tlp", "amber+strict")
    assert first.code == 0, first.err
    assert "imported 3 incidents (0 already imported)" in first.out
    with runtime.reading() as session:
        assert set(session.scalars(select(Incident.tlp))) == {"amber+strict"}
        assert set(session.scalars(select(Incident.contributed_by))) == {"cli:import"}
        assert session.scalar(select(func.count()).select_from(ImportedRow)) == 3

    again = cli("import", str(sheet), "--organisation", organisation)
    assert again.code == 0, again.err
    assert "imported 0 incidents (3 already imported)" in again.out
    assert _incidents(runtime) == 3
    dry_again = cli("import", str(sheet), "--organisation", organisation, "--dry-run")
    assert "0 would be imported (3 already imported)" in dry_again.out


def test_a_custom_mapping_file_and_clear_refusals(
    cli: Cli, runtime: Runtime, organisation: str, tmp_path: Path
) -> None:
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"year": "Jahr", "origin_state": "Von", "tactic": "Was"}))
    sheet = tmp_path / "incidents.csv"
    sheet.write_text("Jahr;Von;Was\n2020;Iran;hacking\n")
    done = cli("import", str(sheet), "--organisation", organisation, "--mapping", str(mapping))
    assert done.code == 0, done.err
    assert "imported 1 incident (0 already imported)" in done.out

    missing = cli("import", str(sheet), "--organisation", organisation)
    assert missing.code == 2
    assert 'the sheet has no column "Year" (for year)' in missing.err

    picture = tmp_path / "photo.csv"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    refused = cli("import", str(picture), "--organisation", organisation)
    assert refused.code == 2
    assert "neither an XLSX workbook nor a CSV file in UTF-8" in refused.err

    nobody = cli("import", str(sheet), "--organisation", "Nobody", "--mapping", str(mapping))
    assert nobody.code == 2
    assert "no organisation 'Nobody'" in nobody.err

    absent = cli("import", str(tmp_path / "absent.csv"), "--organisation", organisation)
    assert absent.code == 2
    assert "absent.csv" in absent.err
    assert _incidents(runtime) == 1
