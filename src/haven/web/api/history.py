"""The answer of ``GET /api/v1/{incidents,people}/{id}/history``: a record's earlier versions."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, JsonValue

from haven.access.history import Version


class VersionOut(BaseModel):
    version: int = Field(
        description="1 is the record as first written; the record itself follows the highest."
    )
    changed_at: datetime = Field(description="When this version was replaced.")
    changed_by: str | None = Field(
        description="Who replaced it (a user or process); not shown to the public."
    )
    changed: list[str] = Field(description="The fields the replacement changed.")
    values: dict[str, JsonValue] = Field(
        description=(
            "The fields as they were, by column name (an incident's tactics under `tactics`, a "
            "person's identity under `identity`), as far as this reader may read them."
        )
    )
    withheld: list[str] = Field(
        description=(
            "Fields kept from this reader: identifying fields and narratives for roles that may "
            "not read them, every field of a version kept under a label that does not reach "
            "this reader."
        )
    )
    restricted: bool = Field(
        description="Kept under a label that does not reach this reader, so no value is shown."
    )


class HistoryOut(BaseModel):
    id: str
    versions: list[VersionOut] = Field(description="Earlier versions, newest first.")


def history_out(record_id: str, versions: list[Version]) -> HistoryOut:
    return HistoryOut(
        id=record_id,
        versions=[
            VersionOut(
                version=v.number,
                changed_at=v.changed_at,
                changed_by=v.changed_by,
                changed=list(v.changed),
                values=v.values,
                withheld=list(v.withheld),
                restricted=v.restricted,
            )
            for v in versions
        ],
    )


HISTORY_RESPONSES: dict[int | str, dict[str, str]] = {
    404: {"description": "No such record, or not one this reader may see."}
}
