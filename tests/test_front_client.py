"""Front API client and the signed integration client against their loopback fakes."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from support import drafts
from support.front import (
    FrontClient,
    FrontConfigError,
    FrontError,
    FrontNotFound,
    FrontRateLimited,
    FrontUnavailable,
    Message,
    retry_after_seconds,
)
from support.integrations import (
    IntegrationAuthError,
    IntegrationClient,
    IntegrationRejected,
    IntegrationUnavailable,
)
from tests.fakes.front import FrontFake
from tests.fakes.integration import IntegrationFake, verify_signature

TOKEN = "front-token"


@pytest.fixture
def front() -> Iterator[FrontFake]:
    with FrontFake(token=TOKEN) as fake:
        messages = [
            {"message_id": f"msg_{i}", "text": f"message {i}", "reply_to": "r@example.com"}
            for i in range(5)
        ]
        fake.add_conversation("cnv_1", "inb_1", messages=messages)  # its inbox has channel cha_1
        yield fake


def client(front: FrontFake, token: str = TOKEN) -> FrontClient:
    return FrontClient(token, front.url, timeout=2)


def test_reads_message_history_with_pagination_and_channel(front: FrontFake) -> None:
    with client(front) as c:
        m = c.get_message("msg_0")
        assert m.text == "message 0" and m.customer_email == "r@example.com" and m.is_inbound
        history = c.conversation_messages("cnv_1", limit=4)
        assert [h.id for h in history] == ["msg_4", "msg_3", "msg_2", "msg_1"]
        assert c.channel_for("cnv_1") == "cha_1"
    limits = [r.query.get("limit") for r in front.calls("GET /conversations/cnv_1/messages")]
    assert limits == ["4"]


def test_pagination_follows_next(front: FrontFake) -> None:
    with client(front) as c:
        history = c.conversation_messages("cnv_1", limit=5)
    assert len(history) == 5


def test_writes_draft_comment_assign_reply(front: FrontFake) -> None:
    with client(front) as c:
        draft_id = c.create_draft("cnv_1", body_html="<p>Hi</p>", channel_id="cha_1").id
        c.comment("cnv_1", "note")
        c.assign("cnv_1", "tea_1")
        uid = c.send_reply("cnv_1", body_html="<p>Bye</p>")
    assert front.drafts[0]["draft"]["id"] == draft_id
    assert front.comments[0]["request"]["body"] == "note"
    assert front.assignments == [{"conversation_id": "cnv_1", "assignee_id": "tea_1"}]
    assert front.sent[0]["message_uid"] == uid


@pytest.mark.parametrize(
    "status,error",
    [
        (401, FrontConfigError),
        (403, FrontConfigError),
        (404, FrontNotFound),
        (500, FrontUnavailable),
        (503, FrontUnavailable),
        (400, FrontError),
    ],
)
def test_errors_are_typed(front: FrontFake, status: int, error: type[Exception]) -> None:
    front.fail_next("GET /messages/*", status)
    with client(front) as c, pytest.raises(error) as info:
        c.get_message("msg_0")
    if status in (401, 403):
        assert "FRONT_API_TOKEN" in str(info.value)


def test_wrong_token_names_the_variable(front: FrontFake) -> None:
    with client(front, "bad") as c, pytest.raises(FrontConfigError, match="FRONT_API_TOKEN"):
        c.get_message("msg_0")
    with pytest.raises(FrontConfigError, match="FRONT_API_TOKEN"):
        FrontClient(None, front.url)


def test_429_carries_retry_after(front: FrontFake) -> None:
    front.rate_limit_next("*", retry_after=7)
    with client(front) as c, pytest.raises(FrontRateLimited) as info:
        c.conversation_messages("cnv_1")
    assert info.value.retry_after == 7


def test_429_without_retry_after_waits_until_the_reset(front: FrontFake) -> None:
    front.rate_limit_next("*", retry_after=None, reset_in=30, tier="tier-2")
    with client(front) as c, pytest.raises(FrontRateLimited, match="tier-2") as info:
        c.conversation_messages("cnv_1")
    assert 28 <= info.value.retry_after <= 30
    [call] = front.calls("*")
    assert call.status == 429


def test_the_fake_counts_requests_per_minute_like_front(front: FrontFake) -> None:
    front.limit_rate(3)
    with client(front) as c:
        for _ in range(3):
            c.get_message("msg_0")
        with pytest.raises(FrontRateLimited) as info:
            c.get_message("msg_0")
    assert 1 <= info.value.retry_after <= 60
    assert [r.status for r in front.calls("*")] == [200, 200, 200, 429]
    front.limit_rate(None)
    with client(front) as c:
        assert c.get_message("msg_0").id == "msg_0"


@pytest.mark.parametrize(
    "headers,expected",
    [
        ({"Retry-After": "7"}, 7.0),
        ({"RETRY-AFTER": "2.5"}, 2.5),  # header names are case-insensitive
        ({"retry-after": "7", "x-ratelimit-reset": "1800000060"}, 7.0),  # Retry-After wins
        ({"X-RateLimit-Reset": "1800000042"}, 42.0),  # UNIX seconds
        ({"x-ratelimit-reset": "1800000042000"}, 42.0),  # or milliseconds
        ({"retry-after": "Fri, 15 Jan 2027 08:00:20 GMT"}, 20.0),  # an HTTP date
        ({"retry-after": "soon"}, 5.0),  # unreadable: the default
        ({"retry-after": "nan"}, 5.0),
        ({}, 5.0),
        ({"retry-after": "-3"}, 0.0),
        ({"retry-after": "86400"}, 900.0),  # capped
        ({"x-ratelimit-reset": "1799999990"}, 0.0),  # already past
    ],
)
def test_retry_after_is_read_as_front_documents_it(
    headers: dict[str, str], expected: float
) -> None:
    now = 1_800_000_000.0  # 2027-01-15T08:00:00Z
    assert retry_after_seconds(httpx.Headers(headers), now=now) == pytest.approx(expected)


def test_timeout_is_unavailable(front: FrontFake) -> None:
    front.slow_next("GET /messages/*", 1.0)
    with FrontClient(TOKEN, front.url, timeout=0.2) as c, pytest.raises(FrontUnavailable):
        c.get_message("msg_0")


def test_bad_shapes_give_clear_errors(front: FrontFake) -> None:
    front.fail_next("GET /messages/*", 200, body={"id": "msg_0", "created_at": "yesterday"})
    with client(front) as c, pytest.raises(FrontError, match="created_at is not a number"):
        c.get_message("msg_0")
    front.fail_next("GET /conversations/*/messages", 200, body={"_results": "nope"})
    with client(front) as c, pytest.raises(FrontError, match="_results is not a list"):
        c.conversation_messages("cnv_1")
    front.fail_next("POST /conversations/*/drafts", 200, body=["not", "an", "object"])
    with client(front) as c, pytest.raises(FrontError, match="draft is not an object"):
        c.create_draft("cnv_1", body_html="x", channel_id="cha_1")


def test_draft_delete_sends_the_version_front_requires(front: FrontFake) -> None:
    with client(front) as c:
        draft = c.create_draft("cnv_1", body_html="<p>Hi</p>", channel_id="cha_1")
        assert draft.version and draft.is_draft
        assert c.get_draft(draft.id).version == draft.version
        c.delete_draft(draft.id, draft.version)
    [delete] = front.calls("DELETE /drafts/*")
    assert delete.json == {"version": draft.version} and delete.status == 204
    assert front.deleted_drafts == [draft.id]


def test_fake_refuses_a_draft_delete_without_or_with_a_stale_version(front: FrontFake) -> None:
    with client(front) as c:
        draft = c.create_draft("cnv_1", body_html="<p>Hi</p>", channel_id="cha_1")
        assert draft.version
        with pytest.raises(FrontError, match="version") as info:
            c._request("DELETE", f"/drafts/{draft.id}")  # what the client used to send
        assert info.value.status == 400
        with pytest.raises(FrontError, match="needs its version"):
            c.delete_draft(draft.id, "")
        newer = front.edit_draft_in_front(draft.id, "<p>Hi, edited</p>")
        assert newer != draft.version
        with pytest.raises(FrontError) as info:
            c.delete_draft(draft.id, draft.version)
        assert info.value.status == 409
        assert c.get_draft(draft.id).version == newer
        c.delete_draft(draft.id, newer)
    assert front.deleted_drafts == [draft.id]


def test_merged_conversation_is_followed(front: FrontFake) -> None:
    front.add_conversation("cnv_2", "inb_1", "Other", [{"message_id": "msg_x", "text": "x"}])
    front.merge_conversation("cnv_old", "cnv_2")
    with client(front) as c:
        assert [m.id for m in c.conversation_messages("cnv_old")] == ["msg_x"]


def test_writes_on_a_merged_conversation_go_to_the_one_it_was_merged_into(
    front: FrontFake,
) -> None:
    front.add_conversation("cnv_2", "inb_1", "Other", [{"message_id": "msg_x", "text": "x"}])
    front.merge_conversation("cnv_old", "cnv_2")
    with client(front) as c:
        draft = c.create_draft("cnv_old", body_html="<p>Hi</p>", channel_id="cha_1")
        uid = c.send_reply("cnv_old", body_html="<p>Bye</p>", channel_id="cha_1")
        comment_id = c.comment("cnv_old", "note")
        c.assign("cnv_old", "tea_1")
    assert draft.id == front.drafts[0]["draft"]["id"]
    assert front.drafts[0]["conversation_id"] == "cnv_2"
    assert front.sent[0]["conversation_id"] == "cnv_2" and front.sent[0]["message_uid"] == uid
    assert uid and front.sent[0]["request"]["body"] == "<p>Bye</p>"
    assert front.comments[0]["comment"]["id"] == comment_id
    assert front.assignments == [{"conversation_id": "cnv_2", "assignee_id": "tea_1"}]
    # each write was answered 301 once, then sent again with the same method and body
    for path, verb in [
        ("/conversations/*/drafts", "POST"),
        ("/conversations/*/messages", "POST"),
        ("/conversations/*/comments", "POST"),
        ("/conversations/*/assignee", "PUT"),
    ]:
        calls = front.calls(path)
        assert [(r.method, r.path.split("/")[2], r.status) for r in calls] == [
            (verb, "cnv_old", 301),
            (verb, "cnv_2", calls[1].status),
        ]
        assert calls[1].status in (200, 201, 202, 204) and calls[0].json == calls[1].json
    assert not front.calls("GET /conversations/cnv_2/drafts")  # no POST turned into a GET


def test_merge_chains_are_followed_a_couple_of_hops_only(front: FrontFake) -> None:
    front.add_conversation("cnv_3", "inb_1", "Final", [{"message_id": "msg_y", "text": "y"}])
    front.merge_conversation("cnv_a", "cnv_b")
    front.merge_conversation("cnv_b", "cnv_3")
    with client(front) as c:
        c.comment("cnv_a", "two hops")
    assert front.comments[0]["conversation_id"] == "cnv_3"
    front.merge_conversation("cnv_3", "cnv_c")
    front.merge_conversation("cnv_c", "cnv_a")  # a loop
    with client(front) as c, pytest.raises(FrontError, match="merged conversations"):
        c.comment("cnv_a", "loop")
    assert len(front.comments) == 1


def test_a_redirect_that_names_no_conversation_is_an_error(front: FrontFake) -> None:
    front.fail_next(
        "POST /conversations/*/messages", 301, headers={"Location": "https://evil.example/x"}
    )
    with client(front) as c, pytest.raises(FrontError, match="not a merged conversation"):
        c.send_reply("cnv_1", body_html="<p>Bye</p>")
    assert front.sent == [] and len(front.calls("*")) == 1


def test_the_merged_conversation_is_reached_on_our_api_base_only(front: FrontFake) -> None:
    front.fail_next(
        "POST /conversations/*/comments",
        301,
        headers={"Location": "https://elsewhere.example/conversations/cnv_1/comments"},
    )
    with client(front) as c:
        c.comment("cnv_9", "note")
    assert [r.path for r in front.calls("*")] == [
        "/conversations/cnv_9/comments",
        "/conversations/cnv_1/comments",
    ]
    assert front.comments[0]["conversation_id"] == "cnv_1"


def test_markdown_becomes_safe_html() -> None:
    html = drafts.to_html("Hi **there**\n\n- one\n- two\n\n<script>alert(1)</script>")
    assert "<strong>there</strong>" in html and "<li>one</li>" in html
    assert "<script>" not in html


# -- integration client --------------------------------------------------------------------------


@pytest.fixture
def integration() -> Iterator[IntegrationFake]:
    with IntegrationFake(secret="integration-secret") as fake:
        yield fake


def test_signed_calls_verified_by_the_fake(integration: IntegrationFake) -> None:
    user = integration.add_user("a@example.com")
    purchase = integration.add_purchase(user["id"])
    c = IntegrationClient(integration.url, "integration-secret")
    assert c.lookup_user("a@example.com")["id"] == user["id"]
    assert c.lookup_user("nobody@example.com") is None
    assert [p["id"] for p in c.get_purchases(user["id"])] == [purchase["id"]]
    refund = c.revoke_access(
        purchase_id=purchase["id"], reason="dup", amount=None, idempotency_key="act_1"
    )
    again = c.revoke_access(
        purchase_id=purchase["id"], reason="dup", amount=None, idempotency_key="act_1"
    )
    assert refund == again and len(integration.refunds) == 1
    req = integration.calls("revoke-access")[0]
    assert req.header("Idempotency-Key") == "act_1"
    assert verify_signature("integration-secret", req.header("X-Support-Signature"), req.body)
    assert integration.calls("lookup-user")[0].header("Idempotency-Key") is None


def test_integration_errors_are_typed(integration: IntegrationFake) -> None:
    with pytest.raises(IntegrationAuthError, match="secret"):
        IntegrationClient(integration.url, "wrong-secret").lookup_user("a@example.com")
    c = IntegrationClient(integration.url, "integration-secret", timeout=0.3)
    with pytest.raises(IntegrationRejected, match="purchase not found"):
        c.revoke_access(purchase_id="pur_x", reason="r", amount=None, idempotency_key="act_2")
    integration.fail_next("lookup-user", 503)
    with pytest.raises(IntegrationUnavailable):
        c.lookup_user("a@example.com")
    integration.slow_next("lookup-user", 1.0)
    with pytest.raises(IntegrationUnavailable, match="timed out"):
        c.lookup_user("a@example.com")
    with pytest.raises(ValueError, match="idempotency key"):
        c.call("revoke-access", {"purchase_id": "p", "reason": "r"})


def test_a_message_names_its_sender_apart_from_the_reply_address(front: FrontFake) -> None:
    front.add_message("cnv_1", "msg_rt", from_email=" Jane@Example.com ", reply_to="x@example.com")
    with client(front) as c:
        m = c.get_message("msg_rt")
        [listed] = [h for h in c.conversation_messages("cnv_1", limit=10) if h.id == "msg_rt"]
    assert m.customer_email == "x@example.com"  # where the answer goes
    assert m.sender_email == listed.sender_email == "Jane@Example.com"  # who wrote it
    assert Message.parse({"id": "m", "created_at": 1, "recipients": []}).sender_email is None
