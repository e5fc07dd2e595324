"""The webhook channel against a real HTTP endpoint on 127.0.0.1 that checks the HMAC
signature."""

from __future__ import annotations

import json
from typing import Any

import pytest

from haven.errors import ValidationFailed
from haven.notify.channels import DeliveryFailed, Item, Notice, Recipient, WebhookChannel
from haven.notify.channels.webhook import check_destination, signature
from haven.settings import Mode, Settings

ITEM = Item(
    delivery_id="0190f0e0-0000-7000-8000-000000000001",
    kind="report-received",
    reference="R-2026-1F3A9C",
    link="https://haven.test/reports/0190f0e0-0000-7000-8000-0000000000aa",
    tlp="amber",
)
NOTICE = Notice(ITEM.delivery_id, (ITEM,))
EXPECTED = (
    "There is something new to see in Haven: report-received R-2026-1F3A9C. "
    "Open https://haven.test/reports/0190f0e0-0000-7000-8000-0000000000aa"
)
WEBHOOK = WebhookChannel()


@pytest.fixture
def bare(tmp_path: Any) -> Settings:
    return Settings(data_dir=tmp_path)


def _to(receiver: Any, secret: str) -> Recipient:
    return Recipient(
        webhook_id="0190f0e0-0000-7000-8000-0000000000ee", url=receiver.url, secret=secret
    )


def test_a_webhook_is_signed_and_carries_its_delivery_id(bare: Settings, receiver: Any) -> None:
    receiver.secret = "whsec_test"
    WEBHOOK.deliver(bare, _to(receiver, "whsec_test"), NOTICE)

    assert receiver.deliveries == [ITEM.delivery_id]
    assert receiver.bad_signatures == 0
    (body,) = receiver.bodies
    assert body == {
        "delivery_id": ITEM.delivery_id,
        "digest": False,
        "kind": "report-received",
        "link": ITEM.link,
        "reference": "R-2026-1F3A9C",
        "text": EXPECTED,
        "tlp": "amber",
    }


def test_a_wrong_secret_is_refused_by_the_receiver(bare: Settings, receiver: Any) -> None:
    receiver.secret = "whsec_right"
    with pytest.raises(DeliveryFailed, match="HTTP 401"):
        WEBHOOK.deliver(bare, _to(receiver, "whsec_wrong"), NOTICE)
    assert receiver.bad_signatures == 1
    assert receiver.deliveries == []


def test_the_signature_covers_timestamp_and_body(bare: Settings) -> None:
    body = WEBHOOK.render(bare, Recipient(), NOTICE)
    assert json.loads(body)["delivery_id"] == ITEM.delivery_id
    assert signature("s", "1700000000", body) != signature("s", "1700000001", body)
    assert signature("s", "1700000000", body).startswith("sha256=")


def test_a_digest_body_lists_every_item_under_its_own_id(bare: Settings) -> None:
    second = Item(
        "0190f0e0-0000-7000-8000-000000000002", "record-created", "I-2026-00AA11", "/x", "green"
    )
    digest = Notice("0190f0e0-0000-7000-8000-0000000000dd", (ITEM, second), digest=True)
    body = json.loads(WEBHOOK.render(bare, Recipient(), digest))
    assert (body["delivery_id"], body["digest"]) == (digest.delivery_id, True)
    assert [item["reference"] for item in body["items"]] == ["R-2026-1F3A9C", "I-2026-00AA11"]


def test_approved_content_travels_only_in_the_body_it_was_given_to(bare: Settings) -> None:
    approved = Item(**{**_fields(ITEM), "content": {"host_state": "DE"}})
    body = json.loads(WEBHOOK.render(bare, Recipient(), Notice(ITEM.delivery_id, (approved,))))
    assert body["content"] == {"host_state": "DE"}
    assert "content" not in json.loads(WEBHOOK.render(bare, Recipient(), NOTICE))


def _fields(item: Item) -> dict[str, Any]:
    return {name: getattr(item, name) for name in Item.__slots__}


@pytest.mark.parametrize("status", [302, 500, 404])
def test_anything_but_2xx_is_a_failure(bare: Settings, receiver: Any, status: int) -> None:
    receiver.secret = "k"
    receiver.status = status
    with pytest.raises(DeliveryFailed, match=f"HTTP {status}"):
        WEBHOOK.deliver(bare, _to(receiver, "k"), NOTICE)


def test_an_unreachable_receiver_is_a_failure(bare: Settings) -> None:
    unreachable = Recipient(url="http://127.0.0.1:9/hook", secret="k")
    with pytest.raises(DeliveryFailed, match="unreachable"):
        WebhookChannel(timeout=2).deliver(bare, unreachable, NOTICE)


def test_a_slow_receiver_times_out(bare: Settings, receiver: Any) -> None:
    receiver.secret = "k"
    receiver.delay = 1.0
    with pytest.raises(DeliveryFailed, match="unreachable"):
        WebhookChannel(timeout=0.3).deliver(bare, _to(receiver, "k"), NOTICE)


def test_webhooks_belong_to_organisations() -> None:
    with pytest.raises(ValidationFailed, match="webhooks belong to organisations"):
        WEBHOOK.check(organisation=False, address=None)
    with pytest.raises(ValidationFailed, match="takes no address"):
        WEBHOOK.check(organisation=True, address="desk@bka.example.org")
    WEBHOOK.check(organisation=True, address=None)


# -- where a webhook may point -----------------------------------------------------------------

INTERNAL = (
    "http://127.0.0.1:8080/hook",
    "http://127.1/hook",
    "http://2130706433/hook",  # 127.0.0.1 as one number
    "http://localhost/hook",
    "http://10.1.2.3/hook",
    "http://172.16.0.1/hook",
    "http://192.168.0.10/hook",
    "http://100.64.0.1/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://0.0.0.0/hook",
    "http://224.0.0.1/hook",
    "http://240.0.0.1/hook",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://[fe80::1]/hook",
    "http://[fc00::1]/hook",
    "http://[ff02::1]/hook",
    "http://[::]/hook",
)


@pytest.fixture
def strict(tmp_path: Any) -> Settings:
    return Settings(data_dir=tmp_path, webhook_allow_private=False)


@pytest.mark.parametrize("url", INTERNAL)
def test_a_webhook_may_not_point_into_havens_own_network(strict: Settings, url: str) -> None:
    with pytest.raises(ValidationFailed, match="inside Haven's own network") as refused:
        check_destination(url, strict)
    assert "HAVEN_WEBHOOK_ALLOW_PRIVATE" in (refused.value.hint or "")


def test_a_public_address_is_accepted_and_the_setting_allows_internal_ones(
    strict: Settings,
) -> None:
    # Addresses, not names: no name server is asked.
    check_destination("https://93.184.215.14/hook", strict)
    check_destination("https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]:8443/hook", strict)
    allowing = strict.model_copy(update={"webhook_allow_private": True})
    for url in INTERNAL:
        check_destination(url, allowing)


def test_production_takes_https_webhooks_only(strict: Settings) -> None:
    production = strict.model_copy(update={"mode": Mode.PRODUCTION})
    with pytest.raises(ValidationFailed, match="https"):
        check_destination("http://93.184.215.14/hook", production)
    check_destination("https://93.184.215.14/hook", production)
    with pytest.raises(ValidationFailed, match="port"):
        check_destination("https://93.184.215.14:99999/hook", production)


def test_delivery_checks_the_address_again(strict: Settings, receiver: Any) -> None:
    """A webhook added while its name pointed elsewhere (or while the setting was on) is
    refused at delivery once it points inside; nothing reaches the receiver."""
    receiver.secret = "k"
    for url in (receiver.url, receiver.url.replace("127.0.0.1", "localhost")):
        with pytest.raises(DeliveryFailed, match="inside Haven's own network"):
            WEBHOOK.deliver(strict, Recipient(url=url, secret="k"), NOTICE)
    assert receiver.deliveries == []
    allowing = strict.model_copy(update={"webhook_allow_private": True})
    WEBHOOK.deliver(allowing, _to(receiver, "k"), NOTICE)
    assert receiver.deliveries == [ITEM.delivery_id]


def test_production_delivers_over_https_only(bare: Settings, receiver: Any) -> None:
    receiver.secret = "k"
    production = bare.model_copy(update={"mode": Mode.PRODUCTION})
    with pytest.raises(DeliveryFailed, match="https only"):
        WEBHOOK.deliver(production, _to(receiver, "k"), NOTICE)
    assert receiver.deliveries == []


def test_a_proxy_in_the_environment_is_not_used(
    bare: Settings, receiver: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proxy would resolve the receiver's name itself, past the check: webhooks go direct."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    receiver.secret = "k"
    WEBHOOK.deliver(bare, _to(receiver, "k"), NOTICE)
    assert receiver.deliveries == [ITEM.delivery_id]
