from __future__ import annotations

from ipaddress import ip_network

import pytest
from starlette.requests import Request

from haven.web.limits import SignInLimits, SlidingWindow, TooManyRequests, client_address


def test_a_window_allows_its_limit_then_refuses_until_time_passes() -> None:
    window = SlidingWindow(limit=3, seconds=10)
    assert [window.allow("a", now=t) for t in (0, 1, 2, 3)] == [True, True, True, False]
    assert window.allow("b", now=3)
    assert window.allow("a", now=10.5)


def test_a_full_table_forgets_idle_keys_first() -> None:
    window = SlidingWindow(limit=1, seconds=5, max_keys=2)
    assert window.allow("a", now=0)
    assert window.allow("b", now=4)
    assert window.allow("c", now=6)  # "a" is idle and forgotten; "b" is kept
    assert not window.allow("b", now=6)


PROXIES = (ip_network("10.0.0.7"), ip_network("10.1.0.0/16"), ip_network("fd00::/8"))


def _request(peer: str, *forwarded_for: str) -> Request:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded_for]
    return Request({"type": "http", "headers": headers, "client": (peer, 40000)})


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "client"),
    [
        # Not a trusted proxy: the header is the peer's own say-so.
        ("192.0.2.1", ["203.0.113.9"], "192.0.2.1"),
        ("testclient", ["203.0.113.9"], "testclient"),
        # A trusted proxy: the right-most entry that is not a trusted proxy itself.
        ("10.0.0.7", ["203.0.113.9"], "203.0.113.9"),
        ("10.0.0.7", ["198.51.100.1, 203.0.113.9, 10.1.4.4"], "203.0.113.9"),
        ("10.0.0.7", ["198.51.100.1", "203.0.113.9"], "203.0.113.9"),
        ("::ffff:10.0.0.7", [" 203.0.113.9 "], "203.0.113.9"),
        ("fd00::1", ["2001:db8::5"], "2001:db8::5"),
        # Nothing forwarded, or only proxies: the left-most hop known.
        ("10.0.0.7", [], "10.0.0.7"),
        ("10.0.0.7", ["10.1.0.1, 10.1.0.2"], "10.1.0.1"),
        # Garbage no proxy writes: counted against the last hop that wrote something sound.
        ("10.0.0.7", ["203.0.113.9, not-an-address"], "10.0.0.7"),
        ("10.0.0.7", ["unknown, 10.1.0.3"], "10.1.0.3"),
    ],
)
def test_the_client_address_believes_trusted_proxies_only(
    peer: str, forwarded_for: list[str], client: str
) -> None:
    assert client_address(_request(peer, *forwarded_for), PROXIES) == client


def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    assert client_address(_request("10.0.0.7", "203.0.113.9"), ()) == "10.0.0.7"


def test_second_factor_codes_have_a_budget_of_their_own() -> None:
    limits = SignInLimits(per_connection=2)
    for _ in range(2):
        limits.check("192.0.2.1")
    with pytest.raises(TooManyRequests, match="sign-in attempts"):
        limits.check("192.0.2.1")
    for _ in range(2):
        limits.check_code("192.0.2.1")
    with pytest.raises(TooManyRequests, match="second-factor codes"):
        limits.check_code("192.0.2.1")
    limits.check_code("192.0.2.2")
