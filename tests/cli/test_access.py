"""haven orgs, users and tokens."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from haven.access.models import User
from haven.runtime import Runtime
from haven.web.app import create_app

Cli = Callable[..., Any]


def test_an_organisation_a_user_and_a_token_from_the_command_line(
    cli: Cli, runtime: Runtime
) -> None:
    assert cli("orgs", "create", "Exile Legal Aid", "--kind", "ngo").code == 0
    listed = cli("orgs", "list")
    assert "Exile Legal Aid" in listed.out
    created = cli(
        "users", "create", "ana@example.org", "--org", "Exile Legal Aid", "--role", "caseworker"
    )
    assert created.code == 0, created.err
    assert "password (shown once):" in created.out
    issued = cli(
        "tokens", "create", "--user", "ana@example.org", "--name", "sync", "--scope", "read"
    )
    assert issued.code == 0, issued.err
    secret = re.search(r"secret \(shown once\): (\S+)", issued.out)
    token_id = re.search(r"token (\S+) expires", issued.out)
    assert secret is not None
    assert token_id is not None
    headers = {"Authorization": f"Bearer {secret.group(1)}"}
    with TestClient(create_app(runtime)) as client:
        assert client.get("/api/v1/incidents", headers=headers).status_code == 200
        assert cli("tokens", "revoke", token_id.group(1)).code == 0
        assert client.get("/api/v1/incidents", headers=headers).status_code == 401


def test_bad_organisation_and_user_input_gets_one_line(cli: Cli) -> None:
    authority = cli("orgs", "create", "Police", "--kind", "authority")
    assert authority.code == 2
    assert "member state" in authority.err
    assert cli("orgs", "create", "Police", "--kind", "authority", "--member-state", "FR").code == 0
    twice = cli("orgs", "create", "Police", "--kind", "ngo")
    assert twice.code == 2
    assert "exists already" in twice.err
    unknown = cli("users", "create", "x@example.org", "--org", "Nobody", "--role", "analyst")
    assert unknown.code == 2
    assert "no organisation" in unknown.err
    assert cli("users", "create", "x@example.org", "--org", "Police", "--role", "chief").code == 2


def test_reset_2fa_removes_the_factor_and_ends_sessions(cli: Cli, runtime: Runtime) -> None:
    cli("orgs", "create", "Exile Legal Aid", "--kind", "ngo")
    cli("users", "create", "ana@example.org", "--org", "Exile Legal Aid", "--role", "caseworker")
    with runtime.transaction() as session:
        user = session.scalars(select(User)).one()
        user.totp_secret = b"\x01" + b"\x00" * 40
    outcome = cli("users", "reset-2fa", "ana@example.org")
    assert outcome.code == 0, outcome.err
    with runtime.transaction() as session:
        assert session.scalars(select(User)).one().totp_secret is None
    assert cli("users", "reset-2fa", "nobody@example.org").code == 2


def test_sharing_groups_from_the_command_line(cli: Cli, runtime: Runtime) -> None:
    for name in ("Owner NGO", "Second NGO", "Third NGO"):
        assert cli("orgs", "create", name, "--kind", "ngo").code == 0
    created = cli(
        "groups", "create", "Central Asia", "--owner", "Owner NGO", "--member", "Second NGO"
    )
    assert created.code == 0, created.err
    assert cli("groups", "add", "Central Asia", "Third NGO").code == 0
    assert cli("groups", "remove", "Central Asia", "Second NGO").code == 0
    listed = cli("groups", "list")
    assert "Central Asia" in listed.out
    assert "Third NGO" in listed.out
    assert "Second NGO" not in listed.out.split("Central Asia", 1)[1].split("\n")[0]
    owner = cli("groups", "remove", "Central Asia", "Owner NGO")
    assert owner.code == 2
    assert "stays in it" in owner.err
    assert cli("groups", "create", "Central Asia", "--owner", "Owner NGO").code == 2
