"""Administration pages: an organisation's administrators manage its users; system
administrators manage the organisations that use Haven."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from haven.access.accounts import (
    NewGroup,
    NewOrganisation,
    NewUser,
    create_organisation,
    create_sharing_group,
    create_user,
)
from haven.access.groups import Membership, groups_of, set_member
from haven.access.models import User
from haven.access.signin import needs_second_factor, revoke_sessions
from haven.domain.enums import ContributorKind, Role
from haven.errors import Forbidden, HavenError
from haven.registry.models import Contributor
from haven.registry.paging import is_record_id
from haven.web.deps import CipherDep, SessionDep
from haven.web.pages import SignedIn, SignedInDep, Visitor, VisitorDep, page

router = APIRouter(include_in_schema=False)
MEMBER_KINDS = [kind for kind in ContributorKind if kind is not ContributorKind.SYSTEM]


class NewUserForm(BaseModel):
    login: str = Field(min_length=3, max_length=320)
    roles: list[Role] = Field(min_length=1)
    csrf: str = ""


class NewOrganisationForm(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    kind: ContributorKind
    member_state: str = Field(default="", max_length=2)
    csrf: str = ""


def _administrator(visitor: Visitor) -> None:
    if Role.ADMINISTRATOR not in visitor.reader.roles and not visitor.user.system_admin:
        raise Forbidden("this page is for your organisation's administrators")


def _system_administrator(visitor: Visitor) -> None:
    if not visitor.user.system_admin:
        raise Forbidden("this page is for system administrators")


def _users_page(
    here: SignedIn, *, error: str | None = None, created: dict[str, str] | None = None
) -> HTMLResponse:
    visitor, cipher = here.visitor, here.cipher
    users = here.session.scalars(
        select(User).where(User.organisation_id == visitor.user.organisation_id)
    ).all()
    rows = [
        (u, cipher.decrypt(u.login, f"users.login:{u.id}").decode(), needs_second_factor(u))
        for u in users
    ]
    roles = [role.value for role in Role]
    return page(
        here.request,
        "users.html",
        visitor=visitor,
        rows=rows,
        roles=roles,
        error=error,
        created=created,
    )


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(here: SignedInDep) -> HTMLResponse:
    _administrator(here.visitor)
    return _users_page(here)


@router.post("/admin/users", response_class=HTMLResponse)
def add_user(here: SignedInDep, form: Annotated[NewUserForm, Form()]) -> HTMLResponse:
    """Create a user of the administrator's organisation; the password is shown once."""
    visitor = here.visitor
    _administrator(visitor)
    visitor.require_csrf(form.csrf)
    password = secrets.token_urlsafe(18)
    new = NewUser(visitor.user.organisation_id, form.login, password, frozenset(form.roles))
    try:
        create_user(here.session, here.cipher, new, actor=visitor.reader.actor)
    except HavenError as refusal:
        return _users_page(here, error=refusal.one_line())
    here.session.flush()
    return _users_page(here, created={"login": form.login, "password": password})


@router.post("/admin/users/{user_id}/revoke-sessions")
def revoke_user_sessions(
    user_id: str, visitor: VisitorDep, session: SessionDep, csrf: Annotated[str, Form()] = ""
) -> Response:
    _administrator(visitor)
    visitor.require_csrf(csrf)
    target = session.get(User, user_id) if is_record_id(user_id) else None
    if target is None or target.organisation_id != visitor.user.organisation_id:
        raise Forbidden("you administer the users of your own organisation only")
    revoke_sessions(session, user_id, actor=visitor.reader.actor)
    return RedirectResponse("/admin/users", status_code=303)


@router.get("/admin/organisations", response_class=HTMLResponse)
def organisations_page(request: Request, visitor: VisitorDep, session: SessionDep) -> HTMLResponse:
    return _organisations_page(request, visitor, session)


def _organisations_page(
    request: Request, visitor: Visitor, session: SessionDep, error: str | None = None
) -> HTMLResponse:
    """The page, with a refusal when a form was refused (never from the address bar)."""
    _system_administrator(visitor)
    rows = session.scalars(select(Contributor).order_by(Contributor.name)).all()
    kinds = [kind.value for kind in MEMBER_KINDS]
    return page(request, "organisations.html", visitor=visitor, rows=rows, kinds=kinds, error=error)


@router.post("/admin/organisations", response_class=HTMLResponse)
def add_organisation(
    request: Request,
    visitor: VisitorDep,
    session: SessionDep,
    cipher: CipherDep,
    form: Annotated[NewOrganisationForm, Form()],
) -> Response:
    _system_administrator(visitor)
    visitor.require_csrf(form.csrf)
    try:
        if form.kind is ContributorKind.SYSTEM:
            raise Forbidden("Haven itself is the only system organisation")
        create_organisation(
            session,
            cipher,
            NewOrganisation(form.name, form.kind, form.member_state or None),
            actor=visitor.reader.actor,
        )
    except HavenError as refusal:
        return _organisations_page(request, visitor, session, error=refusal.one_line())
    return RedirectResponse("/admin/organisations", status_code=303)


class GroupForm(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    csrf: str = ""


class MemberForm(BaseModel):
    organisation_id: str = Field(max_length=36)
    member: bool
    csrf: str = ""


def _groups_page(
    request: Request, visitor: Visitor, session: SessionDep, error: str | None = None
) -> HTMLResponse:
    groups = groups_of(session, visitor.user.organisation_id)
    organisations = session.execute(
        select(Contributor.id, Contributor.name)
        .where(Contributor.kind != ContributorKind.SYSTEM)
        .order_by(Contributor.name)
    ).all()
    return page(
        request,
        "groups.html",
        visitor=visitor,
        groups=groups,
        organisations=organisations,
        error=error,
    )


@router.get("/admin/groups", response_class=HTMLResponse)
def groups_page(request: Request, visitor: VisitorDep, session: SessionDep) -> HTMLResponse:
    _administrator(visitor)
    return _groups_page(request, visitor, session)


@router.post("/admin/groups", response_class=HTMLResponse)
def add_group(
    request: Request,
    visitor: VisitorDep,
    session: SessionDep,
    cipher: CipherDep,
    form: Annotated[GroupForm, Form()],
) -> Response:
    _administrator(visitor)
    visitor.require_csrf(form.csrf)
    owner = visitor.user.organisation_id
    try:
        create_sharing_group(
            session, cipher, NewGroup(form.name, owner), actor=visitor.reader.actor
        )
    except HavenError as refusal:
        return _groups_page(request, visitor, session, refusal.one_line())
    return RedirectResponse("/admin/groups", status_code=303)


@router.post("/admin/groups/{group_id}/members", response_class=HTMLResponse)
def change_member(
    group_id: str,
    request: Request,
    visitor: VisitorDep,
    session: SessionDep,
    form: Annotated[MemberForm, Form()],
) -> Response:
    _administrator(visitor)
    visitor.require_csrf(form.csrf)
    try:
        set_member(
            session,
            Membership(group_id, form.organisation_id, form.member),
            actor=visitor.reader.actor,
            owner_id=visitor.user.organisation_id,
        )
    except HavenError as refusal:
        if isinstance(refusal, Forbidden):
            raise
        return _groups_page(request, visitor, session, refusal.one_line())
    return RedirectResponse("/admin/groups", status_code=303)
