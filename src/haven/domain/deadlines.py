"""Deadlines by urgency: how soon a case or a referral must be acknowledged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

SATURDAY = 5


@dataclass(frozen=True, slots=True)
class Deadlines:
    """How soon a case or a referral must be acknowledged: urgent ones within minutes, in the
    spirit of a 24/7 helpline; others within working days (Monday to Friday)."""

    urgent: timedelta = timedelta(hours=2)
    working_days: int = 3

    def due(self, start: datetime, urgent: bool) -> datetime:
        if urgent:
            return start + self.urgent
        due = start
        left = self.working_days
        while left:
            due += timedelta(days=1)
            if due.weekday() < 5:
                left -= 1
        return due

    def window(self, start: datetime, urgent: bool) -> timedelta:
        return self.due(start, urgent) - start
