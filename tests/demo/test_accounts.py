from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from haven.demo.accounts import DEMO_ACCOUNTS, DEMO_PASSWORD
from haven.runtime import Runtime
from haven.web.app import create_app


def test_the_demo_prints_accounts_that_sign_in(cli: Callable[..., Any], runtime: Runtime) -> None:
    outcome = cli("demo", "--incidents", "5")
    assert outcome.code == 0, outcome.err
    assert DEMO_PASSWORD in outcome.out
    for login, _, _ in DEMO_ACCOUNTS:
        assert login in outcome.out
    again = cli("demo", "--incidents", "5", "--if-empty")
    assert again.code == 0
    assert DEMO_ACCOUNTS[0][0] in again.out
    with TestClient(create_app(runtime)) as client:
        form = client.get("/sign-in")
        csrf = form.text.split('name="csrf" value="')[1].split('"')[0]
        signed_in = client.post(
            "/sign-in",
            data={"login": "analyst@demo.example.org", "password": DEMO_PASSWORD, "csrf": csrf},
            follow_redirects=False,
        )
        assert signed_in.headers["location"] == "/incidents"
        assert "<table>" in client.get("/incidents").text


def test_the_demo_is_refused_in_production(
    cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("HAVEN_MODE", "production")
    monkeypatch.setenv("HAVEN_SECRET_KEY", "y" * 48)
    monkeypatch.setenv("HAVEN_DATA_DIR", str(tmp_path / "data"))
    outcome = cli("demo", "--incidents", "1")
    assert outcome.code == 2
    assert "for development" in outcome.err
