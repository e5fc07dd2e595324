"""Imports of incident spreadsheets (CSV and XLSX): read, check every row, then write them all or
nothing.

A :class:`Mapping` says which column feeds which field (``mapping``). :func:`check` reads the
whole sheet (``sheets``) and returns the rows ready to import with a :class:`Problem` for *every*
bad row (``rows``, with the words it understands in ``vocabularies``); :func:`run_import`
(``writing``) writes the rows through one :class:`~haven.registry.writer.RegistryWriter` in the
caller's transaction, so the caller commits once and any error leaves nothing behind.

Decisions worth knowing (docs/import.md says the same for users):

- A Freedom House category in the tactic column (Assassination, Assault, Detention, Rendition,
  Unlawful deportation) becomes the *first* taxonomy tactic that carries that category:
  assassination → targeted-killing, assault → physical-assault, detention → arrest-misuse,
  rendition → abduction, unlawful deportation → forced-return.
- Host-state involvement takes Haven's words (none, complicit, active, unknown); "yes" means
  complicit (the host state was involved, which says less than that it acted itself), "no" means
  none, and an empty cell means unknown.
- A row's key is HMAC-SHA-256, under a key derived from the key file, over the organisation's id,
  the row's normalised values and its place among identical rows of the same file. Importing the
  same file again finds every key in ``imported_rows`` and adds nothing, while two identical rows
  of one file are two incidents. The key is keyed so that nobody holding only the database can
  confirm a guessed narrative against it.
- Problems name the line and the column and say what is wrong; they quote a cell only where it
  holds a country or a tactic, never narratives, sources or anything else that could name
  someone.
"""

from haven.intake.imports.mapping import (
    FIELDS,
    FREEDOM_HOUSE,
    HAVEN_COLUMNS,
    READY_MAPPINGS,
    Mapping,
    load_mapping,
)
from haven.intake.imports.rows import (
    FIRST_YEAR,
    NARRATIVE_LENGTH,
    TITLE_LENGTH,
    Checked,
    ImportRow,
    Problem,
    check,
)
from haven.intake.imports.sheets import MAX_ROWS, Sheet, read_sheet
from haven.intake.imports.vocabularies import COUNTRY_ALIASES, country_code
from haven.intake.imports.writing import (
    ImportCounts,
    Progress,
    already_imported,
    row_key,
    run_import,
)

__all__ = [
    "COUNTRY_ALIASES",
    "FIELDS",
    "FIRST_YEAR",
    "FREEDOM_HOUSE",
    "HAVEN_COLUMNS",
    "MAX_ROWS",
    "NARRATIVE_LENGTH",
    "READY_MAPPINGS",
    "TITLE_LENGTH",
    "Checked",
    "ImportCounts",
    "ImportRow",
    "Mapping",
    "Problem",
    "Progress",
    "Sheet",
    "already_imported",
    "check",
    "country_code",
    "load_mapping",
    "read_sheet",
    "row_key",
    "run_import",
]
