"""Demo accounts, one for each kind of user, with a published password: development only."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from haven.access.accounts import NewUser, create_user, login_index
from haven.access.models import User
from haven.access.signin import SECOND_FACTOR_ROLES
from haven.crypto.fields import FieldCipher
from haven.demo.generator import DEMO_CONTRIBUTORS
from haven.domain.enums import Role
from haven.intake.reports import intake_organisation, set_intake_organisation
from haven.registry.contributors import ensure_contributor

DEMO_PASSWORD = "haven-demo-password"  # noqa: S105 (printed by `make run`; never in production)
DEMO_ACCOUNTS = (
    ("caseworker@demo.example.org", 0, Role.CASEWORKER),
    ("coordinator@demo.example.org", 0, Role.COORDINATOR),
    ("analyst@demo.example.org", 0, Role.ANALYST),
    ("admin@demo.example.org", 0, Role.ADMINISTRATOR),
    ("caseworker@ngo2.demo.example.org", 1, Role.CASEWORKER),
    ("focal-point@authority.demo.example.org", 4, Role.CASEWORKER),
)


@dataclass(frozen=True, slots=True)
class DemoAccount:
    login: str
    organisation: str
    role: Role
    second_factor: bool


def ensure_demo_accounts(session: Session, cipher: FieldCipher) -> list[DemoAccount]:
    """Create the demo accounts that are missing; returns all of them."""
    organisations = [
        ensure_contributor(session, cipher, name, kind, state, actor="demo")
        for name, kind, state in DEMO_CONTRIBUTORS
    ]
    if intake_organisation(session) is None:
        set_intake_organisation(session, organisations[0], actor="demo")
    accounts = []
    for login, org_index, role in DEMO_ACCOUNTS:
        known = session.scalar(
            select(User.id).where(User.login_index == login_index(cipher, login))
        )
        if known is None:
            new = NewUser(organisations[org_index], login, DEMO_PASSWORD, frozenset({role}))
            create_user(session, cipher, new, actor="demo")
        accounts.append(
            DemoAccount(login, DEMO_CONTRIBUTORS[org_index][0], role, role in SECOND_FACTOR_ROLES)
        )
    return accounts
