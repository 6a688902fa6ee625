"""The Slack fake refuses what Slack refuses (arguments, Block Kit limits, trigger expiry), the
way Slack does; what our Block Kit builders produce passes the same checks."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from slack import blocks
from tests.contracts import slack as contract
from tests.fakes.slack import SlackFake

TOKEN = "xoxb-contract"
NOW = dt.datetime(2026, 11, 25, 12, 0, 0)


@pytest.fixture
def slack() -> Iterator[SlackFake]:
    with SlackFake(token=TOKEN) as fake:
        yield fake


def web(fake: SlackFake) -> WebClient:
    client = WebClient(token=TOKEN, base_url=fake.url + "/api/")
    client.retry_handlers.clear()  # see Slack's own answer, not slack_sdk's retry
    return client


def refused(call: Any) -> dict[str, Any]:
    with pytest.raises(SlackApiError) as info:
        call()
    assert info.value.response.status_code == 200  # Slack reports refusals in the body
    data: dict[str, Any] = dict(info.value.response.data)
    assert data["ok"] is False
    return data


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def button(text: str = "Approve", value: str = "act_1", **extra: Any) -> dict[str, Any]:
    return {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "action_id": "approve_action",
                "text": {"type": "plain_text", "text": text},
                "value": value,
                **extra,
            }
        ],
    }


def modal(n_blocks: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Reject"},
        "blocks": [section(f"block {i}") for i in range(n_blocks)],
        **extra,
    }


def test_messages_need_a_channel_and_text_or_blocks(slack: SlackFake) -> None:
    c = web(slack)
    with pytest.warns(UserWarning, match="text"):  # slack_sdk warns too
        assert refused(lambda: c.chat_postMessage(channel="C1"))["error"] == "no_text"
    assert refused(lambda: c.chat_postMessage(channel="", text="x"))["error"] == (
        "channel_not_found"
    )
    assert refused(lambda: c.chat_update(channel="C1", ts="", text="x"))["error"] == (
        "message_not_found"
    )
    assert refused(lambda: c.chat_postEphemeral(channel="C1", user="", text="x"))["error"] == (
        "user_not_in_channel"
    )
    assert refused(lambda: c.chat_postMessage(channel="C1", text="x" * 40_001))["error"] == (
        "msg_too_long"
    )
    with pytest.warns(UserWarning, match="text"):
        assert c.chat_postMessage(channel="C1", blocks=[section("only blocks")])["ok"]
    assert slack.posted and len(slack.contract_violations) == 5


@pytest.mark.parametrize(
    "bad,pointer",
    [
        ([section("x")] * 51, "/blocks]"),
        ([section("x" * 3001)], "/blocks/0/text/text"),
        ([section("")], "/blocks/0/text/text"),
        ([button(text="x" * 76)], "/blocks/0/elements/0/text/text"),
        ([button(value="v" * 2001)], "/blocks/0/elements/0/value"),
        ([button(style="green")], "/blocks/0/elements/0/style"),
        ([{"type": "header", "text": {"type": "mrkdwn", "text": "h"}}], "/blocks/0/text/type"),
        ([{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}], "/blocks/0/text"),
        ([{**section("a"), "block_id": "b"}, {**section("b"), "block_id": "b"}], "/blocks/1"),
        ([{"type": "table"}], "/blocks/0/type"),
    ],
)
def test_block_kit_limits_are_enforced_like_slack(
    slack: SlackFake, bad: list[dict[str, Any]], pointer: str
) -> None:
    c = web(slack)
    data = refused(lambda: c.chat_postMessage(channel="C1", text="fallback", blocks=bad))
    assert data["error"] == "invalid_blocks"
    assert any(pointer in m for m in data["response_metadata"]["messages"])
    assert slack.posted == []


def test_metadata_is_accepted_as_slack_documents_it(slack: SlackFake) -> None:
    c = web(slack)
    good = {"event_type": "approval_requested", "event_payload": {"action_id": "act_1"}}
    assert c.chat_postMessage(channel="C1", text="x", metadata=good)["ok"]
    data = refused(lambda: c.chat_postMessage(channel="C1", text="x", metadata={"x": 1}))
    assert data["error"] == "invalid_metadata_format"


def test_views_open_needs_a_fresh_trigger_id(slack: SlackFake) -> None:
    c = web(slack)
    fresh = slack.trigger_id()
    assert c.views_open(trigger_id=fresh, view=modal())["ok"]
    stale = slack.trigger_id(issued_at=time.time() - contract.TRIGGER_TTL - 1)
    assert refused(lambda: c.views_open(trigger_id=stale, view=modal()))["error"] == (
        "expired_trigger_id"
    )
    assert refused(lambda: c.views_open(trigger_id="not-a-trigger", view=modal()))["error"] == (
        "invalid_trigger_id"
    )
    assert len(slack.views_opened) == 1


@pytest.mark.parametrize(
    "view,pointer",
    [
        (modal(101), "/view/blocks]"),
        (modal(title={"type": "plain_text", "text": "t" * 25}), "/view/title"),
        (modal(title=None), "/view/title"),
        ({**modal(), "type": "home"}, "/view/type"),
        (
            modal(
                blocks=[
                    {
                        "type": "input",
                        "label": {"type": "plain_text", "text": "Reason"},
                        "element": {"type": "plain_text_input", "action_id": "r"},
                    }
                ]
            ),
            "/view/submit",
        ),
        (modal(private_metadata="m" * 3001), "/view/private_metadata"),
    ],
)
def test_modals_are_checked_like_slack(
    slack: SlackFake, view: dict[str, Any], pointer: str
) -> None:
    c = web(slack)
    data = refused(lambda: c.views_open(trigger_id=slack.trigger_id(), view=view))
    assert data["error"] == "invalid_arguments"
    assert any(pointer in m for m in data["response_metadata"]["messages"])


def test_home_tab_allows_100_blocks_and_must_be_a_home_view(slack: SlackFake) -> None:
    c = web(slack)
    home = {"type": "home", "blocks": [section(f"{i}") for i in range(100)]}
    assert c.views_publish(user_id="U1", view=home)["ok"]
    too_many = {"type": "home", "blocks": [section(f"{i}") for i in range(101)]}
    assert refused(lambda: c.views_publish(user_id="U1", view=too_many))["error"] == (
        "invalid_arguments"
    )
    assert refused(lambda: c.views_publish(user_id="U1", view=modal()))["error"] == (
        "invalid_arguments"
    )
    # views.update without view_id / external_id: slack_sdk refuses it before sending; Slack would too
    assert contract.check("views.update", {"view": modal()}, minted=set()) == {
        "ok": False,
        "error": "invalid_arguments",
        "response_metadata": {"messages": ["[ERROR] view_id or external_id is required"]},
    }
    opened = c.views_open(trigger_id=slack.trigger_id(), view=modal())["view"]["id"]
    data = refused(lambda: c.views_update(view_id=opened, view=modal(101)))
    assert data["error"] == "invalid_arguments"


def test_rate_limits_answer_429_with_retry_after(slack: SlackFake) -> None:
    slack.rate_limit_next("chat.postMessage", retry_after=7)
    with pytest.raises(SlackApiError) as info:
        web(slack).chat_postMessage(channel="C1", text="x")
    assert info.value.response.status_code == 429
    assert info.value.response.headers.get("retry-after") == "7"
    assert info.value.response.data == {"ok": False, "error": "ratelimited"}


# -- what we build passes -------------------------------------------------------------------------


def pending(i: int = 1, **kw: Any) -> blocks.RequestView:
    base: dict[str, Any] = {
        "action_id": f"act_{i}",
        "action_type": "refund",
        "conversation_id": "cnv_1",
        "app_name": "Acme",
        "customer_email": "jane@example.com",
        "reasoning": "why " * 2000,
        "parameters": {"purchase_id": "pur_1", "amount": 4900, "note": "n" * 5000},
        "draft_body": "Hi **Jane**,\n\n" + "More words. " * 600,
        "created_at": NOW,
        "expires_at": NOW + dt.timedelta(hours=24),
    }
    base.update(kw)
    return blocks.RequestView(**base)


def test_our_builders_are_within_slack_limits() -> None:
    view = pending(context_degraded=True)
    message = blocks.request_blocks(view)
    assert (
        contract.check(
            "chat.postMessage",
            {"channel": "C1", "text": blocks.fallback_text(view), "blocks": message},
            minted=set(),
        )
        is None
    )
    for built in (blocks.reject_modal(view), blocks.edit_modal(view)):
        args = {"trigger_id": "1.2.abc", "view": built.to_dict()}
        assert contract.check("views.open", args, minted=set()) is None, built.to_dict()
    many = [pending(i) for i in range(blocks.MAX_HOME_REQUESTS + 5)]
    home = blocks.home_view(many, NOW).to_dict()
    assert contract.check("views.publish", {"user_id": "U1", "view": home}, minted=set()) is None
