"""Adding a webhook: its URL is checked before it is stored."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from haven.crypto.fields import FieldCipher
from haven.errors import ValidationFailed
from haven.notify.models import Webhook
from haven.notify.subscriptions import Endpoint, add_webhook
from haven.settings import Mode, Settings

World = Any  # the world fixture of conftest.py


@pytest.mark.parametrize(
    "case",
    [
        ("http://127.0.0.1:8080/hook", "inside Haven's own network"),
        ("http://localhost/hook", "inside Haven's own network"),
        ("http://169.254.169.254/latest/meta-data/", "inside Haven's own network"),
        ("http://[::1]/hook", "inside Haven's own network"),
        ("ftp://93.184.215.14/hook", "http or https"),
        ("https://user:secret@93.184.215.14/hook", "no credentials"),
    ],
)
def test_a_webhook_haven_must_not_send_to_is_refused_and_not_stored(
    session: Session, cipher: FieldCipher, world: World, settings: Settings, case: tuple[str, str]
) -> None:
    url, refusal = case
    strict = settings.model_copy(update={"webhook_allow_private": False})
    with pytest.raises(ValidationFailed, match=refusal):
        add_webhook(session, cipher, Endpoint(world.de_authority, url), actor="t", settings=strict)
    assert session.scalars(select(Webhook)).all() == []


def test_production_stores_https_webhooks_only(
    session: Session, cipher: FieldCipher, world: World, settings: Settings
) -> None:
    production = settings.model_copy(update={"mode": Mode.PRODUCTION})
    plain = Endpoint(world.de_authority, "http://93.184.215.14/hook")
    with pytest.raises(ValidationFailed, match="https URL"):
        add_webhook(session, cipher, plain, actor="t", settings=production)
    secure = Endpoint(world.de_authority, "https://93.184.215.14/hook")
    created = add_webhook(session, cipher, secure, actor="t", settings=production)
    assert session.scalars(select(Webhook.id)).all() == [created.id]


def test_the_setting_lets_a_receiver_on_this_machine_in(
    session: Session, cipher: FieldCipher, world: World, settings: Settings
) -> None:
    assert settings.webhook_allow_private  # this package's tests turn it on
    endpoint = Endpoint(world.de_authority, "http://127.0.0.1:8080/hook")
    created = add_webhook(session, cipher, endpoint, actor="t", settings=settings)
    assert session.get(Webhook, created.id) is not None
