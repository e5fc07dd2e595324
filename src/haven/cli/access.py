"""``haven orgs``, ``haven users`` and ``haven tokens``: who may use Haven."""

from __future__ import annotations

import secrets
import sys
from datetime import timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import false, or_, select
from sqlalchemy.orm import Session

from haven.access.accounts import (
    NewGroup,
    NewOrganisation,
    NewUser,
    TokenRequest,
    create_organisation,
    create_sharing_group,
    create_token,
    create_user,
    login_index,
    revoke_token,
)
from haven.access.groups import Membership, groups_of, set_member
from haven.access.models import SharingGroup, User
from haven.access.signin import reset_second_factor
from haven.crypto.fields import FieldCipher
from haven.domain.enums import ContributorKind, Role
from haven.errors import NotFound
from haven.intake.reports import set_intake_organisation
from haven.registry.models import Contributor
from haven.registry.paging import is_record_id
from haven.runtime import open_runtime
from haven.settings import load_settings

orgs_app = typer.Typer(help="Organisations that use Haven.", no_args_is_help=True)
users_app = typer.Typer(help="User accounts.", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens for machine clients.", no_args_is_help=True)
groups_app = typer.Typer(help="Sharing groups of organisations.", no_args_is_help=True)

out = Console(soft_wrap=True)
ACTOR = "cli:admin"
MEMBER_KINDS = [k.value for k in ContributorKind if k is not ContributorKind.SYSTEM]


def _organisation(session: Session, name_or_id: str) -> Contributor:
    by_id = Contributor.id == name_or_id if is_record_id(name_or_id) else false()
    found = session.scalar(select(Contributor).where(or_(Contributor.name == name_or_id, by_id)))
    if found is None:
        raise NotFound(f"no organisation {name_or_id!r}", hint="see `haven orgs list`")
    return found


def _user(session: Session, cipher: FieldCipher, login: str) -> User:
    user = session.scalar(select(User).where(User.login_index == login_index(cipher, login)))
    if user is None:
        raise NotFound("no user with that login")
    return user


@orgs_app.command("create")
def orgs_create(
    name: Annotated[str, typer.Argument(help="The organisation's name.")],
    kind: Annotated[str, typer.Option(help=f"One of: {', '.join(MEMBER_KINDS)}.")],
    member_state: Annotated[
        str | None, typer.Option(help="For an authority: the member state it serves (e.g. DE).")
    ] = None,
) -> None:
    """Create an organisation."""
    if kind not in MEMBER_KINDS:
        raise typer.BadParameter(f"use one of: {', '.join(MEMBER_KINDS)}", param_hint="--kind")
    with open_runtime(load_settings()) as runtime:
        cipher = runtime.cipher()
        with runtime.transaction() as session:
            organisation_id = create_organisation(
                session,
                cipher,
                NewOrganisation(name, ContributorKind(kind), member_state),
                actor=ACTOR,
            )
    out.print(f"created organisation {name} ({organisation_id})")


@orgs_app.command("intake")
def orgs_intake(
    organisation: Annotated[str, typer.Argument(help="Name or id of the organisation.")],
) -> None:
    """Make this organisation the one that receives reports from the public form at /report."""
    with open_runtime(load_settings()) as runtime, runtime.transaction() as session:
        found = _organisation(session, organisation)
        set_intake_organisation(session, found.id, actor=ACTOR)
    out.print(f"reports from the public form now go to {found.name}")


@orgs_app.command("list")
def orgs_list() -> None:
    """List organisations."""
    with open_runtime(load_settings()) as runtime, runtime.transaction() as session:
        rows = session.scalars(select(Contributor).order_by(Contributor.name)).all()
        table = Table("name", "kind", "member state", "receives reports")
        table.add_column("id", overflow="fold")
        for row in rows:
            intake = "yes" if row.handles_reports else ""
            table.add_row(row.name, row.kind.value, row.member_state or "", intake, row.id)
    out.print(table)


@users_app.command("create")
def users_create(
    login: Annotated[str, typer.Argument(help="The sign-in name, usually an e-mail address.")],
    organisation: Annotated[str, typer.Option("--org", help="Organisation name or id.")],
    role: Annotated[
        list[Role], typer.Option(help="A role; repeat for several.", case_sensitive=False)
    ],
    system_admin: Annotated[bool, typer.Option("--system-admin")] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Create a user. Without --password-stdin a password is generated and shown once."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else secrets.token_urlsafe(18)
    with open_runtime(load_settings()) as runtime:
        cipher = runtime.cipher()
        with runtime.transaction() as session:
            org = _organisation(session, organisation)
            new = NewUser(org.id, login, password, frozenset(role), system_admin)
            user_id = create_user(session, cipher, new, actor=ACTOR)
    out.print(f"created user {user_id} in {org.name}")
    if not password_stdin:
        out.print(f"password (shown once): {password}")


@users_app.command("reset-2fa")
def users_reset_2fa(
    login: Annotated[str, typer.Argument(help="The user's login.")],
) -> None:
    """Remove a user's second factor and end their sessions; they set it up again at their
    next sign-in. For a lost device, after checking who is asking."""
    with open_runtime(load_settings()) as runtime:
        cipher = runtime.cipher()
        with runtime.transaction() as session:
            user = _user(session, cipher, login)
            reset_second_factor(session, user, actor=ACTOR)
    out.print("second factor removed; it is set up again at the next sign-in")


@tokens_app.command("revoke")
def tokens_revoke(token_id: Annotated[str, typer.Argument(help="The token's id.")]) -> None:
    """Revoke an API token at once."""
    with open_runtime(load_settings()) as runtime, runtime.transaction() as session:
        revoke_token(session, token_id, user_id=None, actor=ACTOR)
    out.print(f"token {token_id} revoked")


@tokens_app.command("create")
def tokens_create(
    login: Annotated[str, typer.Option("--user", help="The login of the token's user.")],
    name: Annotated[str, typer.Option(help="What the token is for.")],
    scope: Annotated[list[str], typer.Option(help="read or write; repeat for both.")],
    days: Annotated[int, typer.Option(min=1, max=366, help="Days until it expires.")] = 90,
) -> None:
    """Create an API token; it is shown once and stored only as a hash."""
    with open_runtime(load_settings()) as runtime:
        cipher = runtime.cipher()
        with runtime.transaction() as session:
            user = _user(session, cipher, login)
            request = TokenRequest(user.id, name, frozenset(scope), timedelta(days=days))
            issued = create_token(session, cipher, request, actor=ACTOR)
    out.print(f"token {issued.id} expires {issued.expires_at:%Y-%m-%d}")
    out.print(f"secret (shown once): {issued.secret}")


def _group_id(session: Session, name: str) -> str:
    group_id = session.scalar(select(SharingGroup.id).where(SharingGroup.name == name))
    if group_id is None:
        raise NotFound(f"no sharing group {name!r}", hint="see `haven groups list`")
    return group_id


@groups_app.command("create")
def groups_create(
    name: Annotated[str, typer.Argument(help="The group's name.")],
    owner: Annotated[str, typer.Option(help="The owning organisation (name or id).")],
    member: Annotated[
        list[str] | None, typer.Option(help="A member organisation; repeat for several.")
    ] = None,
) -> None:
    """Create a sharing group; its owner is always a member."""
    with open_runtime(load_settings()) as runtime:
        cipher = runtime.cipher()
        with runtime.transaction() as session:
            members = [_organisation(session, m).id for m in member or []]
            owner_id = _organisation(session, owner).id
            create_sharing_group(session, cipher, NewGroup(name, owner_id, members), actor=ACTOR)
    out.print(f"created sharing group {name}")


@groups_app.command("add")
def groups_add(
    group: Annotated[str, typer.Argument(help="The group's name.")],
    organisation: Annotated[str, typer.Argument(help="Organisation name or id.")],
) -> None:
    """Add an organisation to a sharing group."""
    _change_member(group, organisation, member=True)


@groups_app.command("remove")
def groups_remove(
    group: Annotated[str, typer.Argument(help="The group's name.")],
    organisation: Annotated[str, typer.Argument(help="Organisation name or id.")],
) -> None:
    """Remove an organisation from a sharing group (not its owner)."""
    _change_member(group, organisation, member=False)


def _change_member(group: str, organisation: str, *, member: bool) -> None:
    with open_runtime(load_settings()) as runtime, runtime.transaction() as session:
        group_id = _group_id(session, group)
        organisation_id = _organisation(session, organisation).id
        change = Membership(group_id, organisation_id, member)
        set_member(session, change, actor=ACTOR, owner_id=None)
    out.print(f"{'added to' if member else 'removed from'} {group}: {organisation}")


@groups_app.command("list")
def groups_list() -> None:
    """List sharing groups with their owners and members."""
    with open_runtime(load_settings()) as runtime, runtime.reading() as session:
        groups = groups_of(session, None)
    table = Table("group", "owner", "members")
    for group in groups:
        table.add_row(group.name, group.owner, ", ".join(name for _, name in group.members))
    out.print(table)
