from __future__ import annotations

import re
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from ipaddress import ip_network

import pytest
import redis
from fastapi.testclient import TestClient
from starlette.requests import Request

from haven.runtime import Runtime, open_runtime
from haven.settings import Settings
from haven.web.app import create_app
from haven.web.limits import (
    Budget,
    ByteBudget,
    IntakeLimits,
    RateStore,
    SignInLimits,
    TooManyRequests,
    client_address,
)


def test_a_budget_allows_its_limit_then_refuses_until_time_passes() -> None:
    budget = Budget(RateStore(), "test", limit=3, seconds=1)
    assert [budget.allow("a") for _ in range(4)] == [True, True, True, False]
    assert budget.full("a")
    assert budget.allow("b")
    assert not budget.full("c")
    assert budget.allow("c")  # asking whether it is full counted nothing
    time.sleep(1.1)
    assert budget.allow("a")


def test_a_byte_budget_takes_sizes_up_to_its_limit() -> None:
    budget = ByteBudget(RateStore(), "bytes", limit=1000, seconds=3600)
    assert budget.take(600)
    assert not budget.take(500)
    assert budget.take(400)
    assert not budget.take(1)
    assert budget.take(0)


def test_budget_keys_hold_no_address_and_depend_on_the_secret() -> None:
    first, second = RateStore(secret="one"), RateStore(secret="two")
    key = first.key("sign-in", "203.0.113.9")
    assert "203.0.113.9" not in "".join(key)
    assert key != second.key("sign-in", "203.0.113.9")
    assert key != first.key("second-factor", "203.0.113.9")
    assert key == RateStore(secret="one").key("sign-in", "203.0.113.9")


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


# -- a store that every Haven process shares -----------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A Redis server of this module's own on 127.0.0.1, keeping nothing on disk."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail(
            "redis-server is not installed: run scripts/redis (Debian package redis-server)"
        )
    port = _free_port()
    server = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if client.ping():
                    break
            except redis.ConnectionError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail("redis-server did not answer")
                time.sleep(0.05)
        yield url
    finally:
        client.close()
        server.terminate()
        server.wait(timeout=10)


def _stored_keys(url: str) -> list[str]:
    client = redis.Redis.from_url(url)
    try:
        return [key.decode() for key in client.scan_iter("*")]
    finally:
        client.close()


def test_two_processes_share_one_sign_in_budget_in_redis(redis_url: str) -> None:
    secret = secrets.token_urlsafe(32)
    first = SignInLimits(per_connection=4, store=RateStore(redis_url, secret=secret))
    second = SignInLimits(per_connection=4, store=RateStore(redis_url, secret=secret))
    for limits in (first, second, first, second):
        limits.check("203.0.113.9")
    with pytest.raises(TooManyRequests):
        first.check("203.0.113.9")
    with pytest.raises(TooManyRequests):
        second.check("203.0.113.9")
    second.check("203.0.113.10")
    for _ in range(5):
        first.login_failed("login-index")
    assert second.login_locked("login-index")
    assert not any("203.0.113" in key for key in _stored_keys(redis_url))


def test_two_processes_share_the_public_form_budgets_in_redis(redis_url: str) -> None:
    secret = secrets.token_urlsafe(32)
    made = [
        IntakeLimits(
            reports_per_minute=2,
            evidence_bytes_per_hour=1000,
            store=RateStore(redis_url, secret=secret),
        )
        for _ in range(2)
    ]
    made[0].report()
    made[1].report()
    with pytest.raises(TooManyRequests, match="many reports"):
        made[0].report()
    assert made[1].evidence.take(700)
    assert not made[0].evidence.take(400)


def _wrong_password(client: TestClient) -> int:
    form = client.get("/sign-in")
    token = re.search(r'name="csrf" value="([^"]*)"', form.text)
    assert token is not None
    answer = client.post(
        "/sign-in", data={"login": "nobody@example.org", "password": "x", "csrf": token.group(1)}
    )
    return answer.status_code


@pytest.fixture
def shared_store(settings: Settings, redis_url: str) -> Iterator[Runtime]:
    shared = settings.model_copy(
        update={"rate_limit_storage": redis_url, "secret_key": secrets.token_urlsafe(32)}
    )
    runtime = open_runtime(shared)
    yield runtime
    runtime.close()


def test_two_app_instances_with_redis_share_the_sign_in_budget(shared_store: Runtime) -> None:
    first, second = create_app(shared_store), create_app(shared_store)
    limits: SignInLimits = first.state.sign_in_limits
    for _ in range(19):
        limits.check("testclient")
    with TestClient(second) as client:
        assert _wrong_password(client) == 401
        assert _wrong_password(client) == 429
