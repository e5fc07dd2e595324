"""Rate budgets, counted by the `limits` library in the store HAVEN_RATE_LIMIT_STORAGE names:
this process's memory by default (a restart forgets everything, and each process keeps its own
counts), or a Redis server that every Haven process shares. Every key is a keyed hash, so a
shared store holds no client address, login or receipt; each expires with its window."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

from limits import RateLimitItemPerSecond
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter, SlidingWindowCounterRateLimiter
from starlette.requests import Request

from haven.access.signin import LOCK_OUT, MAX_FAILURES
from haven.errors import HavenError

Network = IPv4Network | IPv6Network
MEMORY = "memory://"


class TooManyRequests(HavenError):
    status = 429


class RateStore:
    """Where the budgets are counted, by URL: ``memory://`` or ``redis://host:port``."""

    def __init__(self, url: str = MEMORY, *, secret: str = "") -> None:
        storage = storage_from_string(url)
        self.events = MovingWindowRateLimiter(storage)
        # Bytes are counted, not logged one by one: a moving window keeps an entry per unit.
        self.amounts = SlidingWindowCounterRateLimiter(storage)
        # A key of its own, derived from Haven's secret, for this use only.
        self._secret = hashlib.sha256(b"haven rate budgets\0" + secret.encode()).digest()

    def key(self, budget: str, identifier: str) -> tuple[str, str]:
        digest = hmac.new(self._secret, f"{budget}\0{identifier}".encode(), hashlib.sha256)
        return "haven", digest.hexdigest()[:32]


class Budget:
    """At most ``limit`` events per key in any ``seconds`` long window."""

    def __init__(self, store: RateStore, name: str, limit: int, seconds: float) -> None:
        self.store = store
        self.name = name
        self.item = RateLimitItemPerSecond(limit, round(seconds))

    def allow(self, key: str) -> bool:
        """Count an event for ``key``, unless its window is used up."""
        return self.store.events.hit(self.item, *self.store.key(self.name, key))

    def full(self, key: str) -> bool:
        """Whether ``key`` has used up the window, without counting an event."""
        return not self.store.events.test(self.item, *self.store.key(self.name, key))


class ByteBudget:
    """At most ``limit`` bytes in about ``seconds`` (a sliding window counter), for everyone
    together."""

    def __init__(self, store: RateStore, name: str, limit: int, seconds: float) -> None:
        self.store = store
        self.name = name
        self.item = RateLimitItemPerSecond(limit, round(seconds))

    def take(self, size: int) -> bool:
        if size <= 0:
            return True
        return self.store.amounts.hit(self.item, *self.store.key(self.name, "all"), cost=size)


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
    """Sign-in attempts per connection and for the whole process (or, with a shared store, for
    every process), on top of each account's lock-out: a guesser spreading tries over many
    accounts is slowed down too. Second-factor codes have budgets of the same size of their
    own, so that a password and its code never compete for one allowance."""

    def __init__(
        self, per_connection: int = 20, overall: int = 600, *, store: RateStore | None = None
    ) -> None:
        store = store or RateStore()
        self.per_connection = Budget(store, "sign-in", per_connection, 60)
        self.overall = Budget(store, "sign-in-all", overall, 60)
        self.codes_per_connection = Budget(store, "second-factor", per_connection, 60)
        self.codes_overall = Budget(store, "second-factor-all", overall, 60)
        # Failures per login, existing or not, so that a lock-out does not tell which logins
        # exist: an unknown login locks after as many failures as a real one.
        self.per_login = Budget(store, "login", MAX_FAILURES, LOCK_OUT.total_seconds())

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


class IntakeLimits:
    """Limits on the public report form and follow-up that track nobody: a budget for all
    reports together, one for evidence bytes, and counts per receipt code. A flood of junk uses
    up the shared budgets for a while; it cannot fill the disk, and a code's owner keeps their
    own allowance."""

    def __init__(
        self,
        *,
        reports_per_minute: int,
        evidence_bytes_per_hour: int,
        per_code_per_hour: int = 30,
        store: RateStore | None = None,
    ) -> None:
        store = store or RateStore()
        self.reports = Budget(store, "reports", reports_per_minute, 60)
        self.evidence = ByteBudget(store, "evidence", evidence_bytes_per_hour, 3600)
        self.per_code = Budget(store, "receipt-code", per_code_per_hour, 3600)
        # Wrong codes, from everyone: 100 bits cannot be guessed, but each try costs a query.
        self.wrong_codes = Budget(store, "wrong-receipt-codes", 600, 60)

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
