"""Counts kept in step with the registry, so that figures over a million incidents are a read of a
few thousand rows.

Each table counts incidents (or, for tactics, methods and profiles, incident-tactic, incident-method
and incident-target pairs) by what decides who may count them (:mod:`haven.insight.cube`) and by
the dimensions the figures need. Database triggers change the counts in the same statement as the
registry row, so a count is never behind the records it counts.

The releases of open statistics are kept here too, as published.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Integer, String
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from haven.db.base import Base
from haven.db.dialect import Guid, UtcDateTime
from haven.db.values import new_id


class _Scope:
    """Who may count a row: the label's audience, the contributor (for labels that keep a record
    inside its organisation) and whether the contributor cleared it for open statistics.

    On SQLite the tables are kept in key order (``WITHOUT ROWID``), so a reader's part of a
    table is one range of it."""

    @declared_attr.directive
    def __table_args__(cls) -> dict[str, Any]:
        return {"sqlite_with_rowid": False}

    audience: Mapped[str] = mapped_column(String(5), primary_key=True)
    contributor: Mapped[str] = mapped_column(String(36), primary_key=True)
    cleared: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)


class _Region:
    """Where it happened, as a region key (``haven.insight.cube.region_of``)."""

    region: Mapped[str] = mapped_column(String(12), primary_key=True)


class PlaceCount(_Scope, Base):
    __tablename__ = "stats_places"

    host: Mapped[str] = mapped_column(String(2), primary_key=True)
    origin: Mapped[str] = mapped_column(String(2), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)


class TraitCount(_Scope, _Region, Base):
    __tablename__ = "stats_traits"

    involvement: Mapped[str] = mapped_column(String(20), primary_key=True)
    accusation: Mapped[str] = mapped_column(String(20), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)


class TacticCount(_Scope, _Region, Base):
    __tablename__ = "stats_tactics"

    tactic: Mapped[str] = mapped_column(String(40), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)


class MethodCount(_Scope, _Region, Base):
    __tablename__ = "stats_methods"

    method: Mapped[str] = mapped_column(String(40), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)


class ProfileCount(_Scope, _Region, Base):
    __tablename__ = "stats_profiles"

    profile: Mapped[str] = mapped_column(String(40), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)


class HostRegion(Base):
    """Each state's region key, for the triggers that count by region."""

    __tablename__ = "stats_host_regions"

    host: Mapped[str] = mapped_column(String(2), primary_key=True)
    region: Mapped[str] = mapped_column(String(12))


class TacticMethod(Base):
    """Each tactic's PACE method, from the taxonomy, for the triggers that count methods."""

    __tablename__ = "stats_tactic_methods"

    tactic: Mapped[str] = mapped_column(String(40), primary_key=True)
    method: Mapped[str] = mapped_column(String(40))


class OpenRelease(Base):
    """One release of open statistics: the figures exactly as published, and when
    (:mod:`haven.insight.releases`). Releases are added, never changed."""

    __tablename__ = "open_releases"

    id: Mapped[str] = mapped_column(Guid, primary_key=True, default=new_id)
    released_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    # The scheduled period a worker's release is for (2026-06, 2026-Q2, 2026), so that two
    # workers never both make it; empty for a release made by hand.
    period: Mapped[str | None] = mapped_column(String(10), unique=True)
    released_by: Mapped[str] = mapped_column(String(200))
    # Codes and counts as published (haven.insight.open.release_data).
    figures: Mapped[dict[str, Any]] = mapped_column(JSON)
