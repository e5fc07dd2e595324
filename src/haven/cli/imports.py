"""``haven import``: incidents from a CSV or XLSX spreadsheet, all rows or none."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy.orm import Session

from haven.cli.access import _organisation
from haven.domain.enums import ContributorKind, Tlp
from haven.errors import ValidationFailed
from haven.intake.imports import already_imported, check, load_mapping, run_import
from haven.registry.models import Contributor
from haven.registry.writer import Actor
from haven.runtime import open_runtime
from haven.settings import load_settings

ACTOR = "cli:import"
out = Console(soft_wrap=True)


def _importer(session: Session, name_or_id: str) -> Contributor:
    found = _organisation(session, name_or_id)
    if found.kind is ContributorKind.SYSTEM:
        raise ValidationFailed(
            "rows are imported for a member organisation, not for Haven itself",
            hint="see `haven orgs list`",
        )
    return found


def import_file(
    file: Annotated[Path, typer.Argument(help="The spreadsheet: a CSV (UTF-8) or XLSX file.")],
    organisation: Annotated[
        str,
        typer.Option(
            "--organisation", "--org", help="Name or id of the organisation importing the rows."
        ),
    ],
    mapping: Annotated[
        str,
        typer.Option(
            help="Which column feeds which field: freedom-house, haven (headers are the field "
            "names) or the path of a JSON mapping file."
        ),
    ] = "freedom-house",
    tlp: Annotated[
        Tlp, typer.Option(help="TLP label of the imported records.", case_sensitive=False)
    ] = Tlp.AMBER,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check every row and write nothing.")
    ] = False,
) -> None:
    """Import incidents from a spreadsheet. Every row is checked first: if any is bad, each bad
    row is listed with its line number and nothing is imported. Rows imported before (by this
    organisation) are skipped, so importing the same file again adds nothing."""
    data = file.read_bytes()
    checked = check(data, load_mapping(mapping), tlp=tlp)
    for problem in checked.problems:
        out.print(problem.describe(), markup=False, highlight=False)
    if not checked.ok:
        raise ValidationFailed(
            checked.summary(), hint="correct the lines listed above and import the file again"
        )
    with open_runtime(load_settings()) as runtime:
        cipher = runtime.cipher()
        if dry_run:
            with runtime.reading() as session:
                found = _importer(session, organisation)
                known = already_imported(session, cipher, found.id, checked.rows)
            out.print(
                f"dry run: all {checked.lines} rows are good; {len(checked.rows) - known} would "
                f"be imported ({known} already imported); nothing was written"
            )
            return
        with runtime.transaction() as session:
            found = _importer(session, organisation)
            actor = Actor(found.id, ACTOR, "cli")
            with Progress(
                TextColumn("import"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=out,
                transient=True,
            ) as bar:
                task = bar.add_task("rows", total=len(checked.rows))
                counts = run_import(
                    session,
                    cipher,
                    actor,
                    checked.rows,
                    progress=lambda done, _total: bar.update(task, completed=done),
                )
    out.print(counts.describe())
