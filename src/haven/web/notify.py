"""Notification pages: the signed-in user's inbox, their subscriptions and, for organisation
administrators, the organisation's subscriptions and webhooks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from haven.crypto.fields import FieldCipher
from haven.db.values import utcnow
from haven.domain.enums import Role, Tlp
from haven.domain.taxonomy import load_taxonomy
from haven.errors import Forbidden, HavenError
from haven.notify.channels import choices
from haven.notify.events import EventKind
from haven.notify.models import Channel, InboxItem, Mode, Subscription, WatchEntity
from haven.notify.subscriptions import (
    Endpoint,
    NewWebhook,
    Owner,
    Rules,
    add_subscription,
    add_webhook,
    remove_subscription,
    set_webhook_approval,
    set_webhook_enabled,
    subscriptions_of,
    webhooks_of,
)
from haven.registry.paging import is_record_id
from haven.registry.sealed import sealed_context
from haven.web.deps import SessionDep, get_runtime
from haven.web.pages import SignedIn, SignedInDep, Visitor, VisitorDep, page

router = APIRouter(include_in_schema=False)
INBOX_PAGE = 200


# -- inbox -----------------------------------------------------------------------------------


@router.get("/inbox", response_class=HTMLResponse)
def inbox_page(request: Request, visitor: VisitorDep, session: SessionDep) -> HTMLResponse:
    items = session.scalars(
        select(InboxItem)
        .where(InboxItem.user_id == visitor.user.id)
        .order_by(InboxItem.created_at.desc(), InboxItem.id.desc())
        .limit(INBOX_PAGE)
    ).all()
    unread = session.scalar(
        select(func.count()).where(
            InboxItem.user_id == visitor.user.id, InboxItem.read_at.is_(None)
        )
    )
    return page(request, "inbox.html", visitor=visitor, items=items, unread=unread)


@router.post("/inbox/{item_id}/read")
def open_item(
    item_id: str, visitor: VisitorDep, session: SessionDep, csrf: Annotated[str, Form()] = ""
) -> Response:
    """Mark an item read and go to what it points at."""
    visitor.require_csrf(csrf)
    item = session.get(InboxItem, item_id) if is_record_id(item_id) else None
    if item is None or item.user_id != visitor.user.id:
        return RedirectResponse("/inbox", status_code=303)
    if item.read_at is None:
        item.read_at = utcnow()
    # Only a path within Haven: an inbox link never leads elsewhere.
    target = item.link if item.link.startswith("/") and not item.link.startswith("//") else "/"
    return RedirectResponse(target, status_code=303)


@router.post("/inbox/read-all")
def read_all(
    visitor: VisitorDep, session: SessionDep, csrf: Annotated[str, Form()] = ""
) -> Response:
    visitor.require_csrf(csrf)
    session.execute(
        update(InboxItem)
        .where(InboxItem.user_id == visitor.user.id, InboxItem.read_at.is_(None))
        .values(read_at=utcnow())
    )
    return RedirectResponse("/inbox", status_code=303)


# -- subscriptions ---------------------------------------------------------------------------


class RulesForm(BaseModel):
    channel: Channel
    mode: Mode = Mode.IMMEDIATE
    kinds: list[EventKind] = Field(default_factory=list)
    host_state: str = Field(default="", max_length=2)
    origin_state: str = Field(default="", max_length=2)
    tactic: str = Field(default="", max_length=40)
    urgent_only: bool = False
    watch_entity: WatchEntity | None = None
    watch_id: str = Field(default="", max_length=36)
    address: str = Field(default="", max_length=320)
    csrf: str = ""

    def rules(self) -> Rules:
        return Rules(
            channel=self.channel,
            mode=self.mode,
            kinds=tuple(self.kinds),
            host_state=self.host_state or None,
            origin_state=self.origin_state or None,
            tactic=self.tactic or None,
            urgent_only=self.urgent_only,
            watch_entity=self.watch_entity if self.watch_id else None,
            watch_id=self.watch_id or None,
            address=self.address or None,
        )


class WebhookForm(BaseModel):
    url: str = Field(max_length=2000)
    approved: list[Tlp] = Field(default_factory=list)
    csrf: str = ""


class ApprovalForm(BaseModel):
    approved: list[Tlp] = Field(default_factory=list)
    csrf: str = ""


def _is_administrator(visitor: Visitor) -> bool:
    return Role.ADMINISTRATOR in visitor.reader.roles


def _administrator(visitor: Visitor) -> str:
    if not _is_administrator(visitor):
        raise Forbidden("your organisation's administrators manage its subscriptions")
    return visitor.user.organisation_id


def _describe(cipher: FieldCipher, subscription: Subscription) -> dict[str, str]:
    rules = []
    if subscription.kinds:
        rules.append(", ".join(subscription.kinds))
    for label, value in (
        ("host state", subscription.host_state),
        ("origin state", subscription.origin_state),
        ("tactic", subscription.tactic),
        (
            subscription.watch_entity.value if subscription.watch_entity else "",
            subscription.watch_id,
        ),
    ):
        if value:
            rules.append(f"{label} {value}")
    if subscription.urgent_only:
        rules.append("urgent only")
    to = subscription.channel.value
    if subscription.address is not None:
        context = sealed_context("subscriptions", "address", subscription.id)
        to += " to " + cipher.decrypt(subscription.address, context).decode()
    return {
        "id": subscription.id,
        "rules": "; ".join(rules) or "everything you may see",
        "channel": to,
        "mode": subscription.mode.value,
    }


def _subscriptions_page(
    here: SignedIn, *, refusal: HavenError | None = None, created: NewWebhook | None = None
) -> HTMLResponse:
    """The page, with the refusal of a form or the webhook just created (and its secret)."""
    visitor, session, cipher = here.visitor, here.session, here.cipher
    own = [_describe(cipher, s) for s in subscriptions_of(session, Owner(user_id=visitor.user.id))]
    organisation: list[dict[str, str]] = []
    webhooks = []
    if _is_administrator(visitor):
        org = Owner(organisation_id=visitor.user.organisation_id)
        organisation = [_describe(cipher, s) for s in subscriptions_of(session, org)]
        webhooks = webhooks_of(session, visitor.user.organisation_id)
    return page(
        here.request,
        "subscriptions.html",
        status=refusal.status if refusal else 200,
        visitor=visitor,
        own=own,
        organisation=organisation,
        webhooks=webhooks,
        administrator=_is_administrator(visitor),
        own_channels=choices(organisation=False, login=visitor.login),
        organisation_channels=choices(organisation=True, login=visitor.login),
        kinds=[kind.value for kind in EventKind],
        tactics=[(t.code, t.label) for t in load_taxonomy().tactics],
        labels=[label.value for label in Tlp],
        error=refusal.one_line() if refusal else None,
        created=created,
    )


@router.get("/subscriptions", response_class=HTMLResponse)
def subscriptions_page(here: SignedInDep) -> HTMLResponse:
    return _subscriptions_page(here)


def _add(here: SignedIn, owner: Owner, form: RulesForm) -> Response:
    visitor = here.visitor
    visitor.require_csrf(form.csrf)
    try:
        add_subscription(here.session, here.cipher, owner, form.rules(), actor=visitor.reader.actor)
    except HavenError as refusal:
        return _subscriptions_page(here, refusal=refusal)
    return RedirectResponse("/subscriptions", status_code=303)


@router.post("/subscriptions", response_class=HTMLResponse)
def add_own(here: SignedInDep, form: Annotated[RulesForm, Form()]) -> Response:
    return _add(here, Owner(user_id=here.visitor.user.id), form)


@router.post("/subscriptions/organisation", response_class=HTMLResponse)
def add_organisations(here: SignedInDep, form: Annotated[RulesForm, Form()]) -> Response:
    return _add(here, Owner(organisation_id=_administrator(here.visitor)), form)


@router.post("/subscriptions/{subscription_id}/delete")
def remove(
    subscription_id: str,
    visitor: VisitorDep,
    session: SessionDep,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    visitor.require_csrf(csrf)
    subscription = (
        session.get(Subscription, subscription_id) if is_record_id(subscription_id) else None
    )
    if subscription is not None and subscription.organisation_id is not None:
        owner = Owner(organisation_id=_administrator(visitor))
    else:
        owner = Owner(user_id=visitor.user.id)
    remove_subscription(session, subscription_id, owner, actor=visitor.reader.actor)
    return RedirectResponse("/subscriptions", status_code=303)


# -- webhooks --------------------------------------------------------------------------------


@router.post("/webhooks", response_class=HTMLResponse)
def create_webhook(here: SignedInDep, form: Annotated[WebhookForm, Form()]) -> Response:
    """Add a webhook; its signing secret is shown on this answer only."""
    visitor = here.visitor
    organisation_id = _administrator(visitor)
    visitor.require_csrf(form.csrf)
    try:
        endpoint = Endpoint(organisation_id, form.url, frozenset(form.approved))
        settings = get_runtime(here.request).settings
        created = add_webhook(
            here.session, here.cipher, endpoint, actor=visitor.reader.actor, settings=settings
        )
    except HavenError as refusal:
        return _subscriptions_page(here, refusal=refusal)
    return _subscriptions_page(here, created=created)


@router.post("/webhooks/{webhook_id}/enable")
def enable_webhook(
    webhook_id: str, visitor: VisitorDep, session: SessionDep, csrf: Annotated[str, Form()] = ""
) -> Response:
    return _switch_webhook(webhook_id, visitor, session, csrf, enabled=True)


@router.post("/webhooks/{webhook_id}/disable")
def disable_webhook(
    webhook_id: str, visitor: VisitorDep, session: SessionDep, csrf: Annotated[str, Form()] = ""
) -> Response:
    return _switch_webhook(webhook_id, visitor, session, csrf, enabled=False)


def _switch_webhook(
    webhook_id: str, visitor: Visitor, session: Session, csrf: str, *, enabled: bool
) -> Response:
    organisation_id = _administrator(visitor)
    visitor.require_csrf(csrf)
    set_webhook_enabled(session, webhook_id, organisation_id, enabled, actor=visitor.reader.actor)
    return RedirectResponse("/subscriptions", status_code=303)


@router.post("/webhooks/{webhook_id}/approval")
def approve_webhook(
    webhook_id: str,
    visitor: VisitorDep,
    session: SessionDep,
    form: Annotated[ApprovalForm, Form()],
) -> Response:
    organisation_id = _administrator(visitor)
    visitor.require_csrf(form.csrf)
    set_webhook_approval(
        session, webhook_id, organisation_id, frozenset(form.approved), actor=visitor.reader.actor
    )
    return RedirectResponse("/subscriptions", status_code=303)
