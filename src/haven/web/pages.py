"""Server-rendered pages: sign-in with the second factor, the incident list, the account page
and the organisation administrator's user page. Every page works without JavaScript."""

from __future__ import annotations

import base64
import hmac
import io
from dataclasses import dataclass
from typing import Annotated

import pyotp
import segno
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, TimestampSigner
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from haven.access.accounts import login_index, reader_for, revoke_token, tokens_of
from haven.access.models import User, WebSession
from haven.access.policy import Reader
from haven.access.reads import IncidentFilter, list_incidents
from haven.access.signin import (
    ISSUER,
    LOCKED,
    Next,
    SignInRefused,
    Started,
    begin_enrolment,
    find_session,
    finish_enrolment,
    revoke_sessions,
    sign_in,
    touch,
    verify_second_factor,
)
from haven.crypto.fields import FieldCipher
from haven.domain.countries import country_name
from haven.runtime import Runtime
from haven.web.deps import CipherDep, SessionDep, get_cipher, get_runtime
from haven.web.limits import SignInLimits, client_address
from haven.web.security import (
    CsrfRefused,
    anonymous_csrf,
    check_anonymous_csrf,
    check_session_csrf,
    clear_session_cookie,
    session_csrf,
    session_secret,
    set_session_cookie,
)
from haven.web.templating import TEMPLATES

router = APIRouter(include_in_schema=False)


class RedirectTo(Exception):
    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


class SignInForm(BaseModel):
    login: str = Field(max_length=320)
    password: str = Field(max_length=1000)
    csrf: str = ""


class CodeForm(BaseModel):
    code: str = Field(max_length=40)
    csrf: str = ""


class EnrolForm(CodeForm):
    seed: str = Field(max_length=200)


@dataclass(frozen=True, slots=True)
class Visitor:
    """A signed-in browser: its session, user, reader and login."""

    web: WebSession
    user: User
    reader: Reader
    login: str
    csrf: str

    def require_csrf(self, token: str) -> None:
        if not hmac.compare_digest(self.csrf, token):
            raise CsrfRefused


def _pending(
    request: Request, session: Session, runtime: Runtime
) -> tuple[WebSession, User] | None:
    secret = session_secret(request, runtime.settings)
    web = find_session(session, secret) if secret else None
    user = session.get(User, web.user_id) if web else None
    if web is None or user is None or user.disabled_at is not None:
        return None
    return web, user


def get_visitor(
    request: Request,
    session: SessionDep,
    runtime: Annotated[Runtime, Depends(get_runtime)],
    cipher: Annotated[FieldCipher, Depends(get_cipher)],
) -> Visitor:
    """The signed-in visitor; anyone else is sent to sign in, or to finish the second factor."""
    found = _pending(request, session, runtime)
    if found is None:
        raise RedirectTo("/sign-in")
    web, user = found
    if not web.verified:
        raise RedirectTo("/sign-in/second-factor" if user.totp_secret else "/account/second-factor")
    touch(web)
    login = cipher.decrypt(user.login, f"users.login:{user.id}").decode()
    reader = reader_for(session, user, surface="web")
    return Visitor(web, user, reader, login, session_csrf(runtime.settings, web.id))


VisitorDep = Annotated[Visitor, Depends(get_visitor)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A signed-in visitor's request with its transaction and the field cipher, as the pages
    that read or change what a visitor's organisation holds are given them."""

    request: Request
    visitor: Visitor
    session: Session
    cipher: FieldCipher


def get_signed_in(
    request: Request, visitor: VisitorDep, session: SessionDep, cipher: CipherDep
) -> SignedIn:
    return SignedIn(request, visitor, session, cipher)


SignedInDep = Annotated[SignedIn, Depends(get_signed_in)]


def page(request: Request, name: str, *, status: int = 200, **context: object) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(request, name, context, status_code=status)


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    return _page_with_csrf(request, "sign_in.html", runtime)


def _page_with_csrf(
    request: Request, name: str, runtime: Runtime, status: int = 200, **context: object
) -> HTMLResponse:
    holder = Response()
    token = anonymous_csrf(request, holder, runtime.settings)
    response = page(request, name, status=status, csrf=token, **context)
    for header, value in holder.raw_headers:
        if header == b"set-cookie":
            response.raw_headers.append((header, value))
    return response


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in_submit(
    request: Request,
    session: SessionDep,
    cipher: CipherDep,
    runtime: RuntimeDep,
    form: Annotated[SignInForm, Form()],
) -> Response:
    check_anonymous_csrf(request, runtime.settings, form.csrf)
    limits: SignInLimits = request.app.state.sign_in_limits
    limits.check(client_address(request, runtime.settings.trusted_proxies))
    login_key = login_index(cipher, form.login)
    if limits.login_locked(login_key):
        outcome: Started | SignInRefused = LOCKED
    else:
        outcome = sign_in(session, cipher, form.login, form.password)
        if isinstance(outcome, SignInRefused) and outcome is not LOCKED:
            limits.login_failed(login_key)
    if isinstance(outcome, SignInRefused):
        return _page_with_csrf(
            request, "sign_in.html", runtime, 401, error=outcome.one_line(), login=form.login
        )
    target = {
        Next.DONE: "/incidents",
        Next.SECOND_FACTOR: "/sign-in/second-factor",
        Next.ENROL: "/account/second-factor",
    }[outcome.next]
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, runtime.settings, outcome.secret)
    return response


def _pending_or_sign_in(
    request: Request, session: Session, runtime: Runtime
) -> tuple[WebSession, User]:
    found = _pending(request, session, runtime)
    if found is None:
        raise RedirectTo("/sign-in")
    return found


@router.get("/sign-in/second-factor", response_class=HTMLResponse)
def second_factor_form(request: Request, session: SessionDep, runtime: RuntimeDep) -> HTMLResponse:
    web, _ = _pending_or_sign_in(request, session, runtime)
    return page(request, "second_factor.html", csrf=session_csrf(runtime.settings, web.id))


@router.post("/sign-in/second-factor", response_class=HTMLResponse)
def second_factor_submit(
    request: Request,
    session: SessionDep,
    cipher: CipherDep,
    runtime: RuntimeDep,
    form: Annotated[CodeForm, Form()],
) -> Response:
    web, _ = _pending_or_sign_in(request, session, runtime)
    check_session_csrf(runtime.settings, web.id, form.csrf)
    limits: SignInLimits = request.app.state.sign_in_limits
    limits.check_code(client_address(request, runtime.settings.trusted_proxies))
    refusal = verify_second_factor(session, cipher, web, form.code)
    if refusal is not None:
        token = session_csrf(runtime.settings, web.id)
        return page(request, "second_factor.html", status=401, csrf=token, error=refusal.one_line())
    return RedirectResponse("/incidents", status_code=303)


@dataclass(frozen=True, slots=True)
class Enrolling:
    """A user setting up a second factor: the request, its session and the login the new
    factor is for."""

    request: Request
    runtime: Runtime
    web: WebSession
    login: str


def get_enrolling(
    request: Request, session: SessionDep, cipher: CipherDep, runtime: RuntimeDep
) -> Enrolling:
    """One who has a factor already is sent to give it (a password alone must never replace
    it) or back to their account."""
    web, user = _pending_or_sign_in(request, session, runtime)
    if user.totp_secret is not None:
        raise RedirectTo("/account" if web.verified else "/sign-in/second-factor")
    login = cipher.decrypt(user.login, f"users.login:{user.id}").decode()
    return Enrolling(request, runtime, web, login)


EnrollingDep = Annotated[Enrolling, Depends(get_enrolling)]


ENROLMENT_SECONDS = 900


def _seed_signer(runtime: Runtime, web: WebSession) -> TimestampSigner:
    """Signs the seed in the enrolment form for this session only, for a quarter of an hour."""
    return TimestampSigner(runtime.settings.secret_key, salt=f"haven totp enrolment {web.id}")


def _qr_data_uri(uri: str) -> str:
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="svg", scale=5, border=2)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def _enrol_page(
    enrolling: Enrolling, secret: str, refusal: SignInRefused | None = None
) -> HTMLResponse:
    """The enrolment page for the seed ``secret``, with the refusal of a wrong code."""
    runtime, web = enrolling.runtime, enrolling.web
    uri = pyotp.TOTP(secret).provisioning_uri(name=enrolling.login, issuer_name=ISSUER)
    return page(
        enrolling.request,
        "enrol.html",
        status=refusal.status if refusal else 200,
        error=refusal.one_line() if refusal else None,
        csrf=session_csrf(runtime.settings, web.id),
        qr=_qr_data_uri(uri),
        seed=secret,
        signed_seed=_seed_signer(runtime, web).sign(secret).decode(),
    )


@router.get("/account/second-factor", response_class=HTMLResponse)
def enrol_form(enrolling: EnrollingDep) -> HTMLResponse:
    return _enrol_page(enrolling, begin_enrolment(enrolling.login).seed)


@router.post("/account/second-factor", response_class=HTMLResponse)
def enrol_submit(
    enrolling: EnrollingDep,
    session: SessionDep,
    cipher: CipherDep,
    form: Annotated[EnrolForm, Form()],
) -> Response:
    runtime, web = enrolling.runtime, enrolling.web
    check_session_csrf(runtime.settings, web.id, form.csrf)
    try:
        plain_seed = (
            _seed_signer(runtime, web).unsign(form.seed, max_age=ENROLMENT_SECONDS).decode()
        )
    except BadSignature:
        raise RedirectTo("/account/second-factor") from None
    try:
        codes = finish_enrolment(session, cipher, web, plain_seed, form.code)
    except SignInRefused as refusal:
        return _enrol_page(enrolling, plain_seed, refusal)
    return page(enrolling.request, "recovery_codes.html", codes=codes)


@router.post("/sign-out")
def sign_out(
    visitor: VisitorDep, session: SessionDep, csrf: Annotated[str, Form()] = ""
) -> Response:
    visitor.require_csrf(csrf)
    revoke_sessions(session, visitor.user.id, actor=visitor.reader.actor, only=visitor.web.id)
    response = RedirectResponse("/sign-in", status_code=303)
    clear_session_cookie(response)
    return response


@router.get("/incidents", response_class=HTMLResponse)
def incidentspage(
    request: Request, visitor: VisitorDep, session: SessionDep, cipher: CipherDep
) -> HTMLResponse:
    views, _ = list_incidents(session, cipher, visitor.reader, IncidentFilter(), limit=50)
    return page(
        request,
        "incidents.html",
        visitor=visitor,
        incidents=views,
        country=country_name,
        may_read_records=visitor.reader.reads_records,
    )


@router.get("/account", response_class=HTMLResponse)
def accountpage(here: SignedInDep) -> HTMLResponse:
    request, visitor, session = here.request, here.visitor, here.session
    sessions = session.scalars(
        select(WebSession)
        .where(WebSession.user_id == visitor.user.id, WebSession.revoked_at.is_(None))
        .order_by(WebSession.created_at.desc())
    ).all()
    tokens = tokens_of(session, here.cipher, visitor.user.id)
    return page(request, "account.html", visitor=visitor, sessions=sessions, tokens=tokens)


@router.post("/account/sessions/{session_id}/revoke")
def revoke_own_session(
    session_id: str, visitor: VisitorDep, session: SessionDep, csrf: Annotated[str, Form()] = ""
) -> Response:
    visitor.require_csrf(csrf)
    revoke_sessions(session, visitor.user.id, actor=visitor.reader.actor, only=session_id)
    return RedirectResponse("/account", status_code=303)


@router.post("/account/tokens/{token_id}/revoke")
def revoke_own_token(
    token_id: str, visitor: VisitorDep, session: SessionDep, csrf: Annotated[str, Form()] = ""
) -> Response:
    visitor.require_csrf(csrf)
    revoke_token(session, token_id, user_id=visitor.user.id, actor=visitor.reader.actor)
    return RedirectResponse("/account", status_code=303)
