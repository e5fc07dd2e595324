"""Clients of the JSON API: organisations that use Haven, their users and bearer tokens."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

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

# (user id, request headers carrying the user's bearer token)
Member = tuple[str, dict[str, str]]


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as client:
        yield client


@pytest.fixture
def organisation(runtime: Runtime) -> Callable[..., str]:
    """Make an organisation that uses Haven: ``organisation(name, kind, member_state)``."""

    def make(
        name: str, kind: ContributorKind = ContributorKind.NGO, member_state: str | None = None
    ) -> str:
        with runtime.transaction() as session:
            return create_organisation(
                session, runtime.cipher(), NewOrganisation(name, kind, member_state), actor="test"
            )

    return make


@pytest.fixture
def member(runtime: Runtime) -> Callable[..., Member]:
    """Make a user of an organisation with roles and a token of the given scopes."""
    counter = itertools.count()

    def make(
        organisation_id: str, *roles: Role, scopes: frozenset[str] = frozenset({"read", "write"})
    ) -> Member:
        cipher = runtime.cipher()
        with runtime.transaction() as session:
            new = NewUser(
                organisation_id, f"user{next(counter)}@example.org", "a" * 16, frozenset(roles)
            )
            user_id = create_user(session, cipher, new, actor="test")
            request = TokenRequest(user_id, "test", scopes, timedelta(days=1))
            secret = create_token(session, cipher, request, actor="test").secret
        return user_id, {"Authorization": f"Bearer {secret}"}

    return make
