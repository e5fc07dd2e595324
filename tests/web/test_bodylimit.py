"""Request bodies: the API's writing requests show a valid token before any of their body is
read, and every body stops at its cap, announced or chunked, with a 413.

The memory tests run a real uvicorn server on 127.0.0.1 in this process and read its resident
size from /proc before and after a large chunked body arrives."""

from __future__ import annotations

import asyncio
import json
import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from haven.access.accounts import (
    NewOrganisation,
    NewUser,
    TokenRequest,
    create_organisation,
    create_token,
    create_user,
)
from haven.domain.enums import ContributorKind, Role
from haven.runtime import Runtime
from haven.web.app import create_app
from haven.web.bodylimit import TokenFirst

MEBIBYTE = 1024 * 1024
REPORT = {
    "what_happened": "Two men waited outside the flat.",
    "tactics": ["intimidation"],
    "occurred": {"start": "2026-01-01", "precision": "year"},
    "origin_state": "BY",
}


@pytest.fixture
def bearer(runtime: Runtime) -> dict[str, str]:
    cipher = runtime.cipher()
    with runtime.transaction() as session:
        new = NewOrganisation("Exile Legal Aid", ContributorKind.NGO)
        organisation_id = create_organisation(session, cipher, new, actor="test")
        user = NewUser(organisation_id, "cw@example.org", "a" * 16, frozenset({Role.CASEWORKER}))
        user_id = create_user(session, cipher, user, actor="test")
        request = TokenRequest(user_id, "partner", frozenset({"read", "write"}), timedelta(days=1))
        secret = create_token(session, cipher, request, actor="test").secret
    return {"Authorization": f"Bearer {secret}"}


@contextmanager
def _serving(runtime: Runtime) -> Iterator[int]:
    """Haven under uvicorn on 127.0.0.1, in a thread of this process; yields its port."""
    config = uvicorn.Config(
        create_app(runtime), host="127.0.0.1", port=0, log_config=None, access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _resident_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc/self/status")


def _post_chunked(port: int, path: str, headers: dict[str, str], total: int) -> tuple[int, float]:
    """Send up to ``total`` bytes in 1 MiB chunks, stopping as soon as an answer arrives or the
    server stops taking them; return the answer's status and the seconds it took."""
    chunk = b" " * MEBIBYTE
    piece = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    lines += ["Transfer-Encoding: chunked", *(f"{k}: {v}" for k, v in headers.items())]
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        connection.settimeout(1.0)
        sent = 0
        while sent < total and not select.select([connection], [], [], 0)[0]:
            try:
                connection.sendall(piece)
            except (TimeoutError, BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        if sent >= total:
            connection.sendall(b"0\r\n\r\n")
        connection.settimeout(10)
        answer = b""
        try:
            while b"\r\n" not in answer and (data := connection.recv(65536)):
                answer += data
        except ConnectionResetError:
            pass
    assert answer.startswith(b"HTTP/1.1 "), answer[:80]
    return int(answer.split(b" ", 2)[1]), time.monotonic() - started


def test_a_large_chunked_body_without_a_token_is_refused_unread(runtime: Runtime) -> None:
    with _serving(runtime) as port:
        _post_chunked(port, "/api/v1/reports", {}, MEBIBYTE)  # the first request's imports
        before = _resident_kib()
        status, seconds = _post_chunked(port, "/api/v1/reports", {}, 95 * MEBIBYTE)
        grown = _resident_kib() - before
    assert status == 401
    assert seconds < 10
    assert grown < 8 * 1024, f"resident size grew by {grown} KiB"


def test_a_large_chunked_body_with_a_token_stops_at_the_api_limit_with_413(
    runtime: Runtime, bearer: dict[str, str]
) -> None:
    with _serving(runtime) as port:
        _post_chunked(port, "/api/v1/reports", bearer, MEBIBYTE)
        before = _resident_kib()
        status, seconds = _post_chunked(port, "/api/v1/reports", bearer, 95 * MEBIBYTE)
        grown = _resident_kib() - before
    assert status == 413
    assert seconds < 10
    assert grown < 8 * 1024, f"resident size grew by {grown} KiB"


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as client:
        yield client


def _chunks(total: int) -> Iterator[bytes]:
    for _ in range(total // (64 * 1024)):
        yield b" " * (64 * 1024)


def test_an_oversized_api_body_gets_413_chunked_or_announced(
    client: TestClient, bearer: dict[str, str]
) -> None:
    json_headers = {**bearer, "Content-Type": "application/json"}
    chunked = client.post("/api/v1/incidents", content=_chunks(2 * MEBIBYTE), headers=json_headers)
    announced = client.post("/api/v1/reports", content=b" " * (MEBIBYTE + 1), headers=json_headers)
    for answer in (chunked, announced):
        assert answer.status_code == 413
        assert answer.json() == {
            "error": "the request is larger than 1 MB",
            "hint": "send a smaller request",
        }
    # Under the limit the same request is read and answered by the application.
    padded = json.dumps(REPORT) + " " * (MEBIBYTE - 4096)
    assert client.post("/api/v1/reports", content=padded, headers=json_headers).status_code == 201


def test_the_api_limit_is_a_setting(runtime: Runtime, bearer: dict[str, str]) -> None:
    runtime.settings = runtime.settings.model_copy(update={"max_api_body_kb": 16})
    with TestClient(create_app(runtime), headers=bearer) as client:
        padded = json.dumps(REPORT) + " " * 20_000
        answer = client.post("/api/v1/reports", content=padded)
        assert answer.status_code == 413
        assert answer.json()["error"] == "the request is larger than 16 KB"
        assert client.post("/api/v1/reports", json=REPORT).status_code == 201


def test_an_unknown_or_malformed_token_is_refused_without_reading(client: TestClient) -> None:
    for credentials in ({}, {"Authorization": "Bearer hvn_unknown"}, {"Authorization": "Basic x"}):
        answer = client.post("/api/v1/reports", json=REPORT, headers=credentials)
        assert answer.status_code == 401
        assert answer.headers["WWW-Authenticate"] == "Bearer"
        assert answer.headers["Connection"] == "close"


def test_a_request_no_route_takes_gets_its_404_or_405_without_a_token(client: TestClient) -> None:
    undeclared = client.put("/api/v1/open/figures", json=REPORT)
    assert undeclared.status_code == 405
    assert undeclared.headers["Allow"] == "GET"
    assert client.post("/api/v1/no-such-thing", json=REPORT).status_code == 404


def _drive(scope: Scope) -> tuple[int, int, bool]:
    """Run TokenFirst around an application that reads its body: (status, body messages
    received, whether the application ran)."""
    received = 0
    reached = False

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal reached
        reached = True
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> Message:
        nonlocal received
        received += 1
        return {"type": "http.request", "body": b"{}", "more_body": received < 3}

    statuses: list[int] = []

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    asyncio.run(TokenFirst(app)(scope, receive, send))
    return statuses[0], received, reached


def test_token_first_reads_nothing_of_a_body_it_refuses(runtime: Runtime) -> None:
    app = create_app(runtime)
    base = {"type": "http", "method": "POST", "path": "/api/v1/reports", "app": app}
    assert _drive({**base, "headers": []}) == (401, 0, False)
    unknown = [(b"authorization", b"Bearer hvn_unknown")]
    assert _drive({**base, "headers": unknown}) == (401, 0, False)
    # Pages and reading requests go straight on: the form has a CSRF token, readers the public.
    assert _drive({**base, "path": "/report", "headers": []}) == (204, 3, True)
    assert _drive({**base, "method": "GET", "headers": []}) == (204, 3, True)
