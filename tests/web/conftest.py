from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx2
import pytest
from playwright.sync_api import Browser, BrowserContext, sync_playwright

from haven.settings import Settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def live_server(settings: Settings) -> Iterator[str]:
    """`haven serve` in a process of its own on 127.0.0.1, against this test's database."""
    port = free_port()
    env = {
        **os.environ,
        "HAVEN_DATABASE_URL": settings.database_url,
        "HAVEN_KEY_FILE": str(settings.resolved_key_file),
        "HAVEN_DATA_DIR": str(settings.data_dir),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "haven", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                pytest.fail(f"haven serve stopped: {server.stderr.read() if server.stderr else ''}")
            try:
                if httpx2.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("haven serve did not answer within 60 seconds")
            time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.communicate(timeout=10)


CHROMIUM = "/usr/bin/chromium"
# As root in a sandboxed machine with no network beyond 127.0.0.1.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, one per test module; each test opens contexts of its own."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A browser context (cookies, storage) for one test."""
    context = browser.new_context()
    yield context
    context.close()
