"""In-memory rate limits: nothing about who asked is written anywhere, and a restart forgets
everything. Each Haven process keeps its own counts."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

from starlette.requests import Request

from haven.access.signin import LOCK_OUT, MAX_FAILURES
from haven.errors import HavenError

Network = IPv4Network | IPv6Network


class TooManyRequests(HavenError):
    status = 429


class SlidingWindow:
    """At most ``limit`` events per key in any ``seconds`` long window."""

    def __init__(self, limit: int, seconds: float, *, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.seconds = seconds
        self.max_keys = max_keys
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, now: float | None = None) -> bool:
        moment = time.monotonic() if now is None else now
        with self._lock:
            events = self._events.get(key)
            if events is None:
                if len(self._events) >= self.max_keys:
                    self._forget_idle(moment)
                events = self._events.setdefault(key, deque())
            while events and moment - events[0] >= self.seconds:
                events.popleft()
            if len(events) >= self.limit:
                return False
            events.append(moment)
            return True

    def full(self, key: str, now: float | None = None) -> bool:
        """Whether ``key`` has used up the window, without counting an event."""
        moment = time.monotonic() if now is None else now
        with self._lock:
            events = self._events.get(key)
            while events and moment - events[0] >= self.seconds:
                events.popleft()
            return bool(events) and len(events or ()) >= self.limit

    def _forget_idle(self, moment: float) -> None:
        idle = [k for k, e in self._events.items() if not e or moment - e[-1] >= self.seconds]
        for key in idle:
            del self._events[key]
        if len(self._events) >= self.max_keys:
            self._events.clear()


def _address(text: str) -> IPv4Address | IPv6Address | None:
    try:
        address = ip_address(text.strip())
    except ValueError:
        return None
    # A dual-stack socket reports an IPv4 peer as ::ffff:a.b.c.d.
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: IPv4Address | IPv6Address, proxies: Sequence[Network]) -> bool:
    return any(address in network for network in proxies)


def client_address(request: Request, proxies: Sequence[Network]) -> str:
    """The address a per-client limit counts: the connection's peer, or, when the peer is one
    of ``proxies``, the right-most X-Forwarded-For entry that is not itself a trusted proxy.
    Entries left of that were written by the client and prove nothing."""
    peer = request.client.host if request.client else "unknown"
    found = _address(peer)
    if found is None or not _trusted(found, proxies):
        return peer
    client = found
    hops = [hop for value in request.headers.getlist("x-forwarded-for") for hop in value.split(",")]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            # No trusted proxy writes this; count the request against the last one that did.
            break
        client = address
        if not _trusted(address, proxies):
            break
    return str(client)


class SignInLimits:
    """Sign-in attempts per connection and for the whole process, on top of each account's
    lock-out: a guesser spreading tries over many accounts is slowed down too. Second-factor
    codes have budgets of the same size of their own, so that a password and its code never
    compete for one allowance."""

    def __init__(self, per_connection: int = 20, overall: int = 600, seconds: float = 60) -> None:
        self.per_connection = SlidingWindow(per_connection, seconds)
        self.overall = SlidingWindow(overall, seconds)
        self.codes_per_connection = SlidingWindow(per_connection, seconds)
        self.codes_overall = SlidingWindow(overall, seconds)
        # Failures per login, existing or not, so that a lock-out does not tell which logins
        # exist: an unknown login locks after as many failures as a real one.
        self.per_login = SlidingWindow(MAX_FAILURES, LOCK_OUT.total_seconds())

    def check(self, connection: str) -> None:
        if not self.per_connection.allow(connection) or not self.overall.allow("all"):
            raise TooManyRequests(
                "too many sign-in attempts from this connection",
                hint="wait a minute and try again",
            )

    def check_code(self, connection: str) -> None:
        if not self.codes_per_connection.allow(connection) or not self.codes_overall.allow("all"):
            raise TooManyRequests(
                "too many second-factor codes from this connection",
                hint="wait a minute and try again",
            )

    def login_locked(self, login_key: str) -> bool:
        return self.per_login.full(login_key)

    def login_failed(self, login_key: str) -> None:
        self.per_login.allow(login_key)


class ByteBudget:
    """At most ``limit`` bytes in any ``seconds`` long window, for everyone together."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self._spent: deque[tuple[float, int]] = deque()
        self._total = 0
        self._lock = threading.Lock()

    def take(self, size: int, now: float | None = None) -> bool:
        moment = time.monotonic() if now is None else now
        with self._lock:
            while self._spent and moment - self._spent[0][0] >= self.seconds:
                self._total -= self._spent.popleft()[1]
            if self._total + size > self.limit:
                return False
            self._spent.append((moment, size))
            self._total += size
            return True


class IntakeLimits:
    """Limits on the public report form and follow-up that track nobody: a budget for all
    reports together, one for evidence bytes, and counts per receipt code. A flood of junk uses
    up the shared budgets for a while; it cannot fill the disk, and a code's owner keeps their
    own allowance."""

    def __init__(
        self, *, reports_per_minute: int, evidence_bytes_per_hour: int, per_code_per_hour: int = 30
    ) -> None:
        self.reports = SlidingWindow(reports_per_minute, 60)
        self.evidence = ByteBudget(evidence_bytes_per_hour, 3600)
        self.per_code = SlidingWindow(per_code_per_hour, 3600)
        # Wrong codes, from everyone: 100 bits cannot be guessed, but each try costs a query.
        self.wrong_codes = SlidingWindow(600, 60)

    def report(self) -> None:
        if not self.reports.allow("all"):
            raise TooManyRequests(
                "many reports are arriving right now and this one could not be taken",
                hint="please wait a minute and send it again; nothing you entered was lost",
            )

    def code_action(self, report_id: str) -> None:
        if not self.per_code.allow(report_id):
            raise TooManyRequests(
                "too many changes with this receipt code in the last hour",
                hint="please wait and try again later",
            )
