"""Dated releases of open statistics: what ``/open`` and ``/api/v1/open/...`` serve.

Open statistics are never counted for a visitor. A release counts the records once
(:func:`haven.insight.open.open_figures`) and keeps the figures exactly as published, with
their date, in ``open_releases``; the pages and downloads show the latest release until the
next. Releases are made by ``haven stats release`` or by the worker on the schedule of
``HAVEN_OPEN_RELEASES`` (monthly by default: the first look of each month makes one). Each
release joins the audit chain with a digest of what it published.

Fewer, dated releases mean fewer differences for anyone to compare: someone who adds or
removes records to see what a count does learns nothing until the next release, and then only
a perturbed difference (:mod:`haven.insight.noise`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from haven.audit.chain import Change, append
from haven.crypto.fields import FieldCipher
from haven.db.values import new_id, utcnow
from haven.insight.figures import Presentation
from haven.insight.models import OpenRelease
from haven.insight.noise import RecordKeys
from haven.insight.open import (
    OpenFigures,
    Protection,
    figures_of_release,
    open_figures,
    release_data,
)
from haven.runtime import Runtime
from haven.settings import Settings

__all__ = [
    "Publisher",
    "ReleaseSchedule",
    "due_period",
    "latest_release",
    "make_release",
    "record_keys",
    "release_when_due",
]

log = logging.getLogger("haven.insight")

ReleaseSchedule = Literal["monthly", "quarterly", "yearly", "manual"]
RECORD_KEY_PURPOSE = "open statistics record keys"
WORKER = "system:open-releases"


def record_keys(cipher: FieldCipher) -> RecordKeys:
    """The instance's record keys, from a key derived from the blind-index key: it is in the
    key file only, and it never rotates, so a record keeps its key for good (a new key would
    give every count fresh noise, and releases before and after could be averaged)."""
    return RecordKeys(cipher.keyring.derived_key(RECORD_KEY_PURPOSE))


@dataclass(frozen=True, slots=True)
class Publisher:
    """How a release is made: its protection, how many origin states the concentration
    figure counts, and who is recorded as having released it."""

    protection: Protection
    top_n: int
    actor: str

    @classmethod
    def of(cls, settings: Settings, cipher: FieldCipher, actor: str) -> Publisher:
        protection = Protection(
            settings.open_threshold, settings.open_rounding, record_keys(cipher)
        )
        return cls(protection, settings.top_states, actor)


def make_release(
    session: Session, publisher: Publisher, *, period: str | None = None
) -> OpenRelease:
    """Count, perturb and protect the open statistics as the records stand, and keep them as a
    release. ``period`` names the scheduled period a worker's release is for (two workers
    cannot both make it); a release made by hand has none."""
    figures = open_figures(
        session, publisher.protection, presentation=Presentation(top_n=publisher.top_n)
    )
    data = release_data(figures)
    release = OpenRelease(
        id=new_id(),
        released_at=utcnow(),
        period=period,
        released_by=publisher.actor,
        figures=data,
    )
    session.add(release)
    session.flush()
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
    append(
        session,
        [Change(publisher.actor, "open-release", "open_releases", release.id, after=digest)],
    )
    return release


# -- the latest release --------------------------------------------------------------------------

_CACHE_SIZE = 8


class _Shown:
    """Releases already turned into figures, by release id and language: a release never
    changes, so it is read and labelled once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._figures: OrderedDict[tuple[str, str], OpenFigures] = OrderedDict()

    def get(self, key: tuple[str, str]) -> OpenFigures | None:
        with self._lock:
            found = self._figures.get(key)
            if found is not None:
                self._figures.move_to_end(key)
            return found

    def put(self, key: tuple[str, str], figures: OpenFigures) -> None:
        with self._lock:
            self._figures[key] = figures
            while len(self._figures) > _CACHE_SIZE:
                self._figures.popitem(last=False)


_SHOWN = _Shown()


def latest_release(session: Session, language: str = "en") -> OpenFigures | None:
    """The figures of the latest release, or ``None`` before the first."""
    latest = session.execute(
        select(OpenRelease.id).order_by(OpenRelease.released_at.desc(), OpenRelease.id.desc())
    ).first()
    if latest is None:
        return None
    key = (str(latest.id), language)
    shown = _SHOWN.get(key)
    if shown is None:
        release = session.get_one(OpenRelease, latest.id)
        shown = figures_of_release(release.figures, release.released_at, language)
        _SHOWN.put(key, shown)
    return shown


# -- the schedule ---------------------------------------------------------------------------------

_MONTHS_PER_PERIOD = {"monthly": 1, "quarterly": 3, "yearly": 12}


def _period(schedule: ReleaseSchedule, now: datetime) -> tuple[str, datetime]:
    """The schedule's period that ``now`` falls in: its name and when it began (UTC)."""
    months = _MONTHS_PER_PERIOD[schedule]
    first_month = (now.month - 1) // months * months + 1
    began = datetime(now.year, first_month, 1, tzinfo=UTC)
    if schedule == "monthly":
        return f"{now.year}-{now.month:02d}", began
    if schedule == "quarterly":
        return f"{now.year}-Q{(now.month - 1) // 3 + 1}", began
    return str(now.year), began


def due_period(schedule: ReleaseSchedule, latest: datetime | None, now: datetime) -> str | None:
    """The period a release is due for, or ``None``: one is due when the current period has
    none yet (a release made by hand in it counts)."""
    if schedule == "manual":
        return None
    name, began = _period(schedule, now.astimezone(UTC))
    if latest is not None and latest >= began:
        return None
    return name


def release_when_due(runtime: Runtime) -> int:
    """Make the release the schedule asks for, if it is due; the worker runs this as it goes.
    Returns how many releases it made (0 or 1)."""
    schedule = runtime.settings.open_releases
    if schedule == "manual":
        return 0
    with runtime.reading() as session:
        latest = session.scalar(
            select(OpenRelease.released_at).order_by(OpenRelease.released_at.desc()).limit(1)
        )
    period = due_period(schedule, latest, utcnow())
    if period is None:
        return 0
    publisher = Publisher.of(runtime.settings, runtime.cipher(), WORKER)
    try:
        with runtime.transaction() as session:
            release = make_release(session, publisher, period=period)
            released = release.id
    except IntegrityError:
        return 0  # another worker made this period's release first
    log.info("open statistics released for %s (release %s)", period, released)
    return 1
