"""One exception hierarchy for Haven.

Every class carries the HTTP status a web surface answers with and a hint that says how to fix the
problem. Messages never contain identifying data: they name records by id, never by content.
"""

from __future__ import annotations


class HavenError(Exception):
    status = 500

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigurationError(HavenError):
    """A setting is missing, malformed or unsafe for the chosen mode."""


class KeyFileError(HavenError):
    """The key file is missing, unreadable, malformed or does not belong to this database."""


class DatabaseUnavailable(HavenError):
    status = 503


class ValidationFailed(HavenError):
    """Input that breaks the registry's rules: an unknown country, tactic or label."""

    status = 422


class NotFound(HavenError):
    status = 404


class Unauthorized(HavenError):
    """No valid credentials: a missing, unknown, expired or revoked token or session."""

    status = 401


class Forbidden(HavenError):
    """Valid credentials without the role or scope the action needs."""

    status = 403


class AuditChainBroken(HavenError):
    """The audit chain does not verify; the message names the first bad entry."""

    status = 500
