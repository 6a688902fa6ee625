"""The loopback fakes work with the real clients (slack_sdk, slack_bolt, httpx, anthropic)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from typing import Any
from urllib.parse import parse_qs

import anthropic
import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from tests.fakes import front as front_fakes
from tests.fakes import slack as slack_fakes
from tests.fakes.anthropic import AnthropicFake
from tests.fakes.front import FrontFake
from tests.fakes.http import FakeServer, Recorded, Reply
from tests.fakes.integration import IntegrationFake, compute_signature, request_body, sign_headers
from tests.fakes.slack import SlackFake

SLACK_TOKEN = "xoxb-test-token"
SIGNING_SECRET = "slack-signing-secret"


@pytest.fixture
def slack():
    with SlackFake(token=SLACK_TOKEN) as fake:
        yield fake


@pytest.fixture
def client(slack):
    return WebClient(token=SLACK_TOKEN, base_url=slack.url + "/api/")


@pytest.fixture
def front():
    with FrontFake(token="front-token") as fake:
        yield fake


@pytest.fixture
def front_http(front):
    with httpx.Client(base_url=front.url, headers={"Authorization": "Bearer front-token"}) as c:
        yield c


@pytest.fixture
def claude():
    with AnthropicFake(api_key="sk-ant-test") as fake:
        yield fake


@pytest.fixture
def integration():
    with IntegrationFake(secret="integration-secret") as fake:
        yield fake


# -- base server ----------------------------------------------------------------------------------


class EchoFake(FakeServer):
    def handle(self, req: Recorded) -> Reply:
        return Reply(
            200, {"path": req.path, "query": req.query, "json": req.json, "form": req.form}
        )


def test_base_server_records_parses_and_scripts_failures():
    with EchoFake() as fake:
        assert fake.url.startswith("http://127.0.0.1:") and fake.port > 0
        r = httpx.post(fake.url + "/a/b?x=1&y=2", json={"k": "v"}, headers={"X-Thing": "yes"})
        assert r.json() == {
            "path": "/a/b",
            "query": {"x": "1", "y": "2"},
            "json": {"k": "v"},
            "form": None,
        }
        r = httpx.post(fake.url + "/form", data={"a": "1", "b": ""})
        assert r.json()["form"] == {"a": "1", "b": ""}

        fake.fail_next("/items/*", 503, times=2, headers={"Retry-After": "7"})
        assert httpx.get(fake.url + "/items/1").status_code == 503
        assert httpx.get(fake.url + "/other").status_code == 200  # not matched, not consumed
        second = httpx.get(fake.url + "/items/2")
        assert second.status_code == 503 and second.headers["retry-after"] == "7"
        assert httpx.get(fake.url + "/items/3").status_code == 200
        fake.fail_next("DELETE /items/*", 409, body={"error": "nope"})
        assert httpx.get(fake.url + "/items/4").status_code == 200
        assert httpx.delete(fake.url + "/items/4").json() == {"error": "nope"}

        first = fake.requests[0]
        assert (
            first.method == "POST"
            and first.header("x-thing") == "yes"
            and first.headers["x-thing"] == "yes"
        )
        assert first.body == b'{"k":"v"}' and first.status == 200
        assert [r.path for r in fake.calls("/items/*")] == [
            "/items/1",
            "/items/2",
            "/items/3",
            "/items/4",
            "/items/4",
        ]
        assert [r.status for r in fake.calls("/items/*")] == [503, 503, 200, 200, 409]
        fake.reset()
        assert fake.requests == [] and fake.pending_scripts() == 0


def test_base_server_delay_makes_client_time_out_and_stop_does_not_hang():
    fake = EchoFake().start()
    fake.fail_next("/slow", 200, delay=5)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(fake.url + "/slow", timeout=0.3)
    started = time.monotonic()
    fake.stop()
    assert time.monotonic() - started < 2
    assert len(fake.requests) == 1


def test_base_server_is_thread_safe_under_concurrent_requests(slack, client):
    errors: list[BaseException] = []

    def post(i: int) -> None:
        try:
            client.chat_postMessage(channel="C1", text=f"m{i}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(slack.posted) == 20 and len(slack.requests) == 20
    assert len({ts for (_, ts) in slack.messages}) == 20
    assert sorted(m["text"] for m in slack.messages.values()) == sorted(f"m{i}" for i in range(20))


# -- Slack ----------------------------------------------------------------------------------------


def test_slack_auth_test_and_token_check(slack, client):
    r = client.auth_test()
    assert r["ok"] and r["team"] == "T Team" and r["team_id"] == slack.team_id
    assert (
        r["user_id"] == slack_fakes.BOT_USER_ID
        and r["bot_id"] == slack_fakes.BOT_ID
        and r["url"].startswith("https://")
    )
    assert slack.requests[0].header("authorization") == f"Bearer {SLACK_TOKEN}"

    bad = WebClient(token="xoxb-wrong", base_url=slack.url + "/api/")
    with pytest.raises(SlackApiError) as exc:
        bad.chat_postMessage(channel="C1", text="hi")
    assert exc.value.response["error"] == "invalid_auth"
    assert slack.posted == []


def test_slack_post_update_and_thread(slack, client):
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "Refund $49?"}},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": "approve",
                    "value": "act_1",
                    "text": {"type": "plain_text", "text": "Ok"},
                }
            ],
        },
    ]
    posted = client.chat_postMessage(channel="C0APPROVALS", text="Refund $49?", blocks=blocks)
    ts = posted["ts"]
    assert posted["channel"] == "C0APPROVALS" and ts.count(".") == 1 and len(ts.split(".")[1]) == 6
    assert slack.message("C0APPROVALS", ts)["blocks"] == blocks
    assert slack.posted[0]["blocks"] == blocks

    reply = client.chat_postMessage(channel="C0APPROVALS", text="reminder", thread_ts=ts)
    assert reply["ts"] != ts and slack.message("C0APPROVALS", reply["ts"])["thread_ts"] == ts

    new_blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "Approved by <@U1>"}}]
    updated = client.chat_update(channel="C0APPROVALS", ts=ts, text="Approved", blocks=new_blocks)
    assert updated["ts"] == ts
    stored = slack.message("C0APPROVALS", ts)
    assert stored["text"] == "Approved" and stored["blocks"] == new_blocks
    assert [u["ts"] for u in slack.updates] == [ts]

    with pytest.raises(SlackApiError) as exc:
        client.chat_update(channel="C0APPROVALS", ts="1.000001", text="x")
    assert exc.value.response["error"] == "message_not_found"

    slack.add_message("C9", "1699999999.000100", "seeded")
    client.chat_update(channel="C9", ts="1699999999.000100", text="edited")
    assert slack.message("C9", "1699999999.000100")["text"] == "edited"

    link = client.chat_getPermalink(channel="C0APPROVALS", message_ts=ts)
    assert link["permalink"].endswith("/archives/C0APPROVALS/p" + ts.replace(".", ""))


def test_slack_accepts_form_encoded_json_strings(slack, client):
    blocks = [{"type": "section", "text": {"type": "plain_text", "text": "form"}}]
    r = client.api_call(
        "chat.postMessage", params={"channel": "C2", "text": "t", "blocks": json.dumps(blocks)}
    )
    assert slack.requests[-1].form is not None  # really sent as a form
    assert slack.message("C2", r["ts"])["blocks"] == blocks


def test_slack_ephemeral_views_and_users(slack, client):
    client.chat_postEphemeral(channel="C1", user="U9", text="Not allowed")
    assert slack.ephemerals[0]["user"] == "U9" and slack.ephemerals[0]["text"] == "Not allowed"

    modal = {
        "type": "modal",
        "callback_id": "reject_reason",
        "private_metadata": "act_1",
        "title": {"type": "plain_text", "text": "Reject"},
        "blocks": [],
    }
    opened = client.views_open(trigger_id="123.456.abc", view=modal)
    assert opened["view"]["callback_id"] == "reject_reason" and opened["view"]["id"].startswith("V")
    assert slack.views_opened[0]["trigger_id"] == "123.456.abc"
    with pytest.raises(SlackApiError) as exc:
        client.api_call("views.open", json={"view": modal})
    assert exc.value.response["error"] == "invalid_arguments"

    updated = client.views_update(
        view_id=opened["view"]["id"], view={**modal, "private_metadata": "act_2"}
    )
    assert updated["view"]["private_metadata"] == "act_2" and len(slack.views_updated) == 1

    home = {
        "type": "home",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Pending: 2"}}],
    }
    published = client.views_publish(user_id="U9", view=home)
    assert published["view"]["type"] == "home"
    assert slack.views_published == [{"user_id": "U9", "view": home}]
    with pytest.raises(SlackApiError):
        client.api_call("views.publish", json={"view": home})

    slack.add_user("U9", "bob", email="bob@example.com")
    info = client.users_info(user="U9")
    assert info["user"]["profile"]["email"] == "bob@example.com"
    assert slack.requests[-1].form == {"user": "U9"}  # slack_sdk's urllib client POSTs a form here
    via_get = httpx.get(
        slack.url + "/api/users.info",
        params={"user": "U9"},
        headers={"Authorization": f"Bearer {SLACK_TOKEN}"},
    )
    assert via_get.json()["user"]["name"] == "bob"  # query-string GETs are accepted too
    with pytest.raises(SlackApiError) as exc:
        client.users_info(user="U404")
    assert exc.value.response["error"] == "user_not_found"


def test_slack_scripted_failures_surface_as_slack_api_error(slack, client):
    slack.fail_next("chat.postMessage", 500)
    with pytest.raises(SlackApiError) as exc:
        client.chat_postMessage(channel="C1", text="x")
    assert exc.value.response.status_code == 500

    slack.rate_limit_next("chat.update", retry_after=3)
    with pytest.raises(SlackApiError) as exc:
        client.chat_update(channel="C1", ts="1.1", text="x")
    assert exc.value.response.status_code == 429
    assert exc.value.response.headers["retry-after"] in ("3", ["3"])
    assert exc.value.response["error"] == "ratelimited"

    slack.error_next("chat.postMessage", "channel_not_found")
    with pytest.raises(SlackApiError) as exc:
        client.chat_postMessage(channel="C1", text="x")
    assert exc.value.response["error"] == "channel_not_found"

    ok = client.chat_postMessage(channel="C1", text="x")  # scripts are used up
    assert ok["ok"] and len(slack.posted) == 1


def test_slack_response_url_records_posts(slack):
    url = slack.response_url("act_1")
    r = WebhookClient(url).send(
        text="Already approved by <@U1>", replace_original=False, response_type="ephemeral"
    )
    assert r.status_code == 200
    assert slack.responses[0]["key"] == "act_1"
    assert slack.responses[0]["json"]["text"] == "Already approved by <@U1>"


def test_slack_known_answer_vector_and_signed_helpers():
    body = (
        "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
        "&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
        "&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
        "&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    headers = slack_fakes.sign(
        "8f742231b10e8888abcd99yyyzzz85a5", body.encode(), timestamp=1531420618
    )
    assert (
        headers["X-Slack-Signature"]
        == "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    )

    payload = slack_fakes.block_actions_payload("approve", "act_1", response_url="https://x/1")
    body_b, hdrs = slack_fakes.signed_interaction(SIGNING_SECRET, payload)
    verifier = SignatureVerifier(SIGNING_SECRET)
    assert verifier.is_valid(body_b, hdrs["X-Slack-Request-Timestamp"], hdrs["X-Slack-Signature"])
    assert not SignatureVerifier("other").is_valid(
        body_b, hdrs["X-Slack-Request-Timestamp"], hdrs["X-Slack-Signature"]
    )
    assert hdrs["Content-Type"] == "application/x-www-form-urlencoded"
    assert json.loads(parse_qs(body_b.decode())["payload"][0]) == payload
    # independent recomputation of Slack's scheme
    expected = (
        "v0="
        + hmac.new(
            SIGNING_SECRET.encode(),
            f"v0:{hdrs['X-Slack-Request-Timestamp']}:".encode() + body_b,
            hashlib.sha256,
        ).hexdigest()
    )
    assert hdrs["X-Slack-Signature"] == expected

    old_body, old = slack_fakes.signed_event(
        SIGNING_SECRET, slack_fakes.app_home_opened_event("U1"), timestamp=1000
    )
    assert old["X-Slack-Request-Timestamp"] == "1000" and old["Content-Type"] == "application/json"
    assert not verifier.is_valid_request(
        old_body, old
    )  # stale timestamp rejected by the real verifier
    assert json.loads(old_body)["event"]["type"] == "app_home_opened"


def test_slack_payloads_drive_a_real_bolt_app(slack, client):
    from slack_bolt import App, BoltRequest

    app = App(signing_secret=SIGNING_SECRET, client=client, process_before_response=True)
    seen: dict[str, object] = {}

    @app.action("approve")
    def on_approve(ack, body, action, client):
        ack()
        seen["action"] = (
            action["value"],
            body["user"]["id"],
            body["user"]["username"],
            body["team"]["id"],
            body["channel"]["id"],
            body["message"]["ts"],
            body["response_url"],
            body["trigger_id"],
        )
        client.chat_update(
            channel=body["channel"]["id"], ts=body["message"]["ts"], text="Approved", blocks=[]
        )

    @app.view("reject_reason")
    def on_submit(ack, view, body):
        ack()
        seen["view"] = (
            view["private_metadata"],
            view["state"]["values"]["reason"]["reason_input"]["value"],
            body["user"]["id"],
        )

    @app.event("app_home_opened")
    def on_home(event, client):
        client.views_publish(user_id=event["user"], view={"type": "home", "blocks": []})

    posted = client.chat_postMessage(
        channel="C0APPROVALS",
        text="Refund?",
        blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "Refund?"}}],
    )
    payload = slack_fakes.block_actions_payload(
        "approve",
        "act_1",
        user_id="U0APPROVER",
        team_id=slack.team_id,
        channel_id="C0APPROVALS",
        message_ts=posted["ts"],
        response_url=slack.response_url("act_1"),
        trigger_id="1.2.3",
        message=slack.message("C0APPROVALS", posted["ts"]),
    )
    body, headers = slack_fakes.signed_interaction(SIGNING_SECRET, payload)
    resp = app.dispatch(BoltRequest(body=body.decode(), headers=headers))
    assert resp.status == 200
    assert seen["action"] == (
        "act_1",
        "U0APPROVER",
        "alice",
        slack.team_id,
        "C0APPROVALS",
        posted["ts"],
        slack.response_url("act_1"),
        "1.2.3",
    )
    assert slack.message("C0APPROVALS", posted["ts"])["blocks"] == []

    sub = slack_fakes.view_submission_payload(
        "reject_reason",
        "act_1",
        slack_fakes.text_input_state("reason", "reason_input", "fraud"),
        "U0APPROVER",
    )
    body, headers = slack_fakes.signed_interaction(SIGNING_SECRET, sub)
    assert app.dispatch(BoltRequest(body=body.decode(), headers=headers)).status == 200
    assert seen["view"] == ("act_1", "fraud", "U0APPROVER")

    body, headers = slack_fakes.signed_event(
        SIGNING_SECRET, slack_fakes.app_home_opened_event("U0APPROVER")
    )
    assert app.dispatch(BoltRequest(body=body.decode(), headers=headers)).status == 200
    assert slack.views_published[0]["user_id"] == "U0APPROVER"

    tampered_headers = {**headers, "X-Slack-Signature": "v0=" + "0" * 64}
    assert app.dispatch(BoltRequest(body=body.decode(), headers=tampered_headers)).status == 401


# -- Front ----------------------------------------------------------------------------------------


def test_front_rejects_wrong_token(front):
    r = httpx.get(front.url + "/me", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401
    assert r.json()["_error"]["status"] == 401 and r.json()["_error"]["title"] == "Unauthorized"
    assert httpx.get(front.url + "/me").status_code == 401
    ok = httpx.get(front.url + "/me", headers={"Authorization": "Bearer front-token"})
    assert ok.status_code == 200 and ok.json()["name"] == "Company"


def test_front_messages_paginate_newest_first(front, front_http):
    front.add_conversation(  # and its inbox inb_1, with one channel cha_1
        "cnv_1",
        "inb_1",
        "Refund please",
        messages=[{"message_id": f"msg_{i}", "text": f"message {i}"} for i in range(5)],
    )
    page = front_http.get("/conversations/cnv_1/messages", params={"limit": 2}).json()
    ids = [m["id"] for m in page["_results"]]
    assert ids == ["msg_4", "msg_3"]
    next_url = page["_pagination"]["next"]
    assert (
        next_url.startswith(front.url + "/conversations/cnv_1/messages?") and "limit=2" in next_url
    )
    while next_url:
        page = front_http.get(next_url).json()
        ids += [m["id"] for m in page["_results"]]
        next_url = page["_pagination"]["next"]
    assert ids == ["msg_4", "msg_3", "msg_2", "msg_1", "msg_0"]

    msg = front_http.get("/messages/msg_2").json()
    assert (
        msg["type"] == "email" and msg["is_inbound"] is True and msg["body"] == "<p>message 2</p>"
    )
    assert msg["_links"]["self"] == front.url + "/messages/msg_2"
    assert {r["role"] for r in msg["recipients"]} == {"from", "to"}
    assert front_http.get("/messages/msg_nope").status_code == 404
    assert front_http.get("/conversations/cnv_1").json()["subject"] == "Refund please"
    assert [i["id"] for i in front_http.get("/conversations/cnv_1/inboxes").json()["_results"]] == [
        "inb_1"
    ]
    assert [c["id"] for c in front_http.get("/inboxes/inb_1/channels").json()["_results"]] == [
        "cha_1"
    ]


def test_front_drafts_replies_comments_assignee(front, front_http):
    front.add_inbox("inb_1", ["cha_1"])
    front.add_conversation(
        "cnv_1",
        "inb_1",
        "Help",
        messages=[
            {"message_id": "msg_a", "text": "hi", "from_email": "c@x.com", "reply_to": "real@x.com"}
        ],
    )

    r = front_http.post("/conversations/cnv_1/drafts", json={"body": "<p>Hello</p>"})
    assert r.status_code == 400 and "channel_id" in r.json()["_error"]["message"]
    assert front.drafts == []

    r = front_http.post(
        "/conversations/cnv_1/drafts", json={"body": "<p>Hello</p>", "channel_id": "cha_1"}
    )
    assert r.status_code == 200
    draft = r.json()
    assert draft["id"] == "msg_draft_1" and draft["is_draft"] is True and draft["text"] == "Hello"
    assert {"handle": "real@x.com", "role": "to"} in draft["recipients"]  # reply-to wins over from
    assert (
        front.drafts[0]["conversation_id"] == "cnv_1" and front.drafts[0]["channel_id"] == "cha_1"
    )

    edit = front_http.patch(
        "/drafts/msg_draft_1/",
        json={"body": "<p>v2</p>", "channel_id": "cha_1", "version": draft["version"]},
    )
    assert edit.status_code == 200 and edit.json()["text"] == "v2"
    listed = front_http.get("/conversations/cnv_1/drafts").json()["_results"]
    assert [d["id"] for d in listed] == ["msg_draft_1"] and listed[0]["text"] == "v2"
    # Front's DeleteDraft requires the draft's current version (an edit moves it on)
    refused = front_http.delete("/drafts/msg_draft_1")
    assert refused.status_code == 400 and "version" in refused.json()["_error"]["message"]
    stale = front_http.request("DELETE", "/drafts/msg_draft_1", json={"version": draft["version"]})
    assert stale.status_code == 409
    assert edit.json()["version"] != draft["version"]
    current = {"version": edit.json()["version"]}
    assert front_http.request("DELETE", "/drafts/msg_draft_1", json=current).status_code == 204
    assert front_http.get("/conversations/cnv_1/drafts").json()["_results"] == []
    assert front.deleted_drafts == ["msg_draft_1"]

    sent = front_http.post(
        "/conversations/cnv_1/messages", json={"body": "<p>Done</p>", "channel_id": "cha_1"}
    )
    assert sent.status_code == 202 and sent.json()["status"] == "accepted"
    assert front.sent[0]["request"]["body"] == "<p>Done</p>"
    assert front.conversation_messages("cnv_1")[-1]["is_inbound"] is False

    c = front_http.post("/conversations/cnv_1/comments", json={"body": "Refund approved"})
    assert c.status_code == 201 and c.json()["id"].startswith("com_")
    assert front.comments[0]["request"]["body"] == "Refund approved"

    a = front_http.put("/conversations/cnv_1/assignee", json={"assignee_id": "tea_1"})
    assert a.status_code == 204 and front.assignments == [
        {"conversation_id": "cnv_1", "assignee_id": "tea_1"}
    ]
    assert front_http.get("/conversations/cnv_1").json()["assignee"] == {"id": "tea_1"}


def test_front_rate_limit_server_error_and_merged(front, front_http):
    front.add_inbox("inb_1")
    front.add_conversation("cnv_old", "inb_1", "old", messages=[{"text": "x"}])
    front.add_conversation("cnv_new", "inb_1", "new", messages=[{"text": "y"}])

    front.rate_limit_next("/conversations/*/messages", retry_after=2)
    r = front_http.get("/conversations/cnv_new/messages")
    assert (
        r.status_code == 429
        and r.headers["retry-after"] == "2"
        and r.json()["_error"]["status"] == 429
    )
    assert front_http.get("/conversations/cnv_new/messages").status_code == 200

    front.fail_next("GET /messages/*", 500)
    assert front_http.get("/messages/whatever").status_code == 500

    front.merge_conversation("cnv_old", "cnv_new")
    r = front_http.get("/conversations/cnv_old/messages")
    assert (
        r.status_code == 301
        and r.headers["location"] == front.url + "/conversations/cnv_new/messages"
    )
    followed = httpx.get(
        front.url + "/conversations/cnv_old",
        headers={"Authorization": "Bearer front-token"},
        follow_redirects=True,
    )
    assert followed.json()["id"] == "cnv_new"


def test_front_signed_webhook_and_envelopes():
    event = front_fakes.inbound_event(
        "evt_1",
        "cnv_1",
        "inb_1",
        "msg_1",
        "c@x.com",
        "Refund",
        "Please refund",
        reply_to="real@x.com",
    )
    body, headers = front_fakes.signed_webhook(
        "front-secret", event, timestamp_ms=1_700_000_000_123
    )
    assert headers["X-Front-Request-Timestamp"] == "1700000000123"
    expected = base64.b64encode(
        hmac.new(b"front-secret", b"1700000000123:" + body, hashlib.sha256).digest()
    ).decode()
    assert (
        headers["X-Front-Signature"] == expected and headers["Content-Type"] == "application/json"
    )

    env = json.loads(body)
    assert env["type"] == "inbound" and env["authorization"]["id"].startswith("cmp_")
    p = env["payload"]
    assert p["id"] == "evt_1" and p["type"] == "inbound" and p["conversation"]["id"] == "cnv_1"
    assert p["source"]["_meta"]["type"] == "inboxes" and p["source"]["data"][0]["id"] == "inb_1"
    msg = p["target"]["data"]
    assert (
        p["target"]["_meta"]["type"] == "message"
        and msg["id"] == "msg_1"
        and msg["text"] == "Please refund"
    )
    roles = {r["role"]: r["handle"] for r in msg["recipients"]}
    assert roles == {"from": "c@x.com", "to": "support@app.com", "reply-to": "real@x.com"}

    now_ms = int(time.time() * 1000)
    _, fresh = front_fakes.signed_webhook("front-secret", event)
    assert abs(int(fresh["X-Front-Request-Timestamp"]) - now_ms) < 5000

    out = front_fakes.outbound_event(
        "evt_2", "cnv_1", "inb_1", "msg_2", "c@x.com", "Re: Refund", "Done", event_type="out_reply"
    )
    assert (
        out["payload"]["type"] == "out_reply"
        and out["payload"]["target"]["data"]["is_inbound"] is False
    )

    body, headers = front_fakes.challenge_delivery("front-secret", "abc123")
    assert headers["x-front-challenge"] == "abc123" and json.loads(body)["type"] == "sync"
    assert front_fakes.sync_event()["type"] == "sync"


# -- Anthropic ------------------------------------------------------------------------------------


def test_anthropic_tool_use_and_text_with_real_sdk(claude):
    sdk = anthropic.Anthropic(api_key="sk-ant-test", base_url=claude.url, max_retries=0)
    tool_id = claude.reply_tool_use("lookup_user", {"email": "c@x.com"}, text="Let me check.")
    claude.reply_text("Here is your answer.")
    tools = [
        {
            "name": "lookup_user",
            "description": "Find a user",
            "input_schema": {"type": "object", "properties": {"email": {"type": "string"}}},
        }
    ]

    first = sdk.messages.create(
        model="claude-sonnet-4-6",
        max_tokens=512,
        system="You help.",
        tools=tools,
        messages=[{"role": "user", "content": "Refund me"}],
    )
    assert (
        first.stop_reason == "tool_use"
        and first.model == "claude-sonnet-4-6"
        and first.role == "assistant"
    )
    assert first.content[0].type == "text" and first.content[0].text == "Let me check."
    block = first.content[1]
    assert block.type == "tool_use" and block.id == tool_id and block.name == "lookup_user"
    assert block.input == {"email": "c@x.com"}
    assert first.usage.input_tokens > 0 and first.stop_sequence is None

    second = sdk.messages.create(
        model="claude-haiku-4-5",
        max_tokens=512,
        messages=[
            {"role": "user", "content": "Refund me"},
            {"role": "assistant", "content": [b.model_dump() for b in first.content]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": tool_id, "content": "{}"}],
            },
        ],
    )
    assert second.stop_reason == "end_turn" and second.content[0].text == "Here is your answer."
    assert second.model == "claude-haiku-4-5"

    req = claude.requests[0]
    assert "sk-ant-test" in (
        req.header("x-api-key"),
        req.header("authorization", "").removeprefix("Bearer "),
    )
    assert req.json["model"] == "claude-sonnet-4-6" and req.json["max_tokens"] == 512
    assert req.json["system"] == "You help." and req.json["tools"][0]["name"] == "lookup_user"
    assert claude.last_request["messages"][2]["content"][0]["tool_use_id"] == tool_id
    assert claude.pending == 0


def test_anthropic_errors_and_retries(claude):
    no_retry = anthropic.Anthropic(api_key="sk-ant-test", base_url=claude.url, max_retries=0)
    claude.fail(529)
    with pytest.raises(anthropic.OverloadedError) as exc:
        no_retry.messages.create(
            model="m", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )
    assert exc.value.status_code == 529 and exc.value.body["error"]["type"] == "overloaded_error"

    retrying = anthropic.Anthropic(api_key="sk-ant-test", base_url=claude.url, max_retries=2)
    claude.fail(429, retry_after=0.01)
    claude.reply_text("ok")
    before = len(claude.requests)
    r = retrying.messages.create(
        model="m", max_tokens=10, messages=[{"role": "user", "content": "x"}]
    )
    assert r.content[0].text == "ok" and len(claude.requests) - before == 2
    assert [x.status for x in claude.requests[-2:]] == [429, 200]

    with pytest.raises(anthropic.RateLimitError):
        claude.fail(429, times=3, retry_after=0.01)
        retrying.messages.create(
            model="m", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )

    before = len(claude.requests)
    with pytest.raises(anthropic.InternalServerError) as exc:  # empty queue: loud, and not retried
        retrying.messages.create(
            model="m", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )
    assert "no scripted reply" in str(exc.value) and len(claude.requests) - before == 1

    wrong_key = anthropic.Anthropic(api_key="sk-wrong", base_url=claude.url, max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        wrong_key.messages.create(
            model="m", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )


def test_anthropic_responder(claude):
    claude.responder = lambda req: {
        "content": [{"type": "text", "text": f"{len(req['messages'])} messages"}]
    }
    sdk = anthropic.Anthropic(api_key="sk-ant-test", base_url=claude.url, max_retries=0)
    r = sdk.messages.create(model="m", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert r.content[0].text == "1 messages" and r.stop_reason == "end_turn"


# -- integration API ------------------------------------------------------------------------------


def _call(
    fake: IntegrationFake,
    action: str,
    data: dict[str, Any],
    *,
    key: str | None = None,
    secret: str | None = None,
    timestamp: int | None = None,
    timeout: float = 5.0,
) -> httpx.Response:
    body = request_body(data)
    headers = sign_headers(secret or fake.secret, body, timestamp)
    if key:
        headers["Idempotency-Key"] = key
    return httpx.post(fake.action_url(action), content=body, headers=headers, timeout=timeout)


def test_integration_signature_is_checked(integration):
    user = integration.add_user("c@x.com", {"name": "Carol"})
    r = _call(integration, "lookup-user", {"email": "C@x.com"})
    assert r.status_code == 200 and r.json() == {"user": user}
    assert _call(integration, "lookup-user", {"email": "nobody@x.com"}).json() == {"user": None}

    body = request_body({"email": "c@x.com"})
    url = integration.action_url("lookup-user")
    assert httpx.post(url, content=body).status_code == 401
    assert _call(integration, "lookup-user", {"email": "c@x.com"}, secret="wrong").json() == {
        "error": "bad signature"
    }
    stale = _call(
        integration, "lookup-user", {"email": "c@x.com"}, timestamp=int(time.time()) - 301
    )
    assert stale.status_code == 401
    # signature over different bytes than the ones sent
    t = int(time.time())
    tampered = {
        "X-Support-Signature": f"t={t},v1={compute_signature('integration-secret', t, body)}"
    }
    assert httpx.post(url, content=body + b" ", headers=tampered).status_code == 401
    # an independently computed header is accepted
    sig = hmac.new(b"integration-secret", f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    ok = httpx.post(
        url,
        content=body,
        headers={"X-Support-Signature": f"t={t},v1={sig}", "Content-Type": "application/json"},
    )
    assert ok.status_code == 200

    purchase = integration.add_purchase(user["id"], {"amount": 9900})
    got = _call(integration, "get-purchases", {"user_id": user["id"]}).json()["purchases"]
    assert got == [purchase] and set(purchase) >= {
        "id",
        "product",
        "amount",
        "currency",
        "purchased_at",
        "status",
    }
    link = _call(integration, "generate-magic-link", {"email": "c@x.com"}).json()
    assert (
        link["url"].startswith(integration.url) and integration.magic_links[0]["email"] == "c@x.com"
    )


def test_integration_idempotency(integration):
    user = integration.add_user("c@x.com")
    purchase = integration.add_purchase(user["id"])

    missing = _call(integration, "revoke-access", {"purchase_id": purchase["id"], "reason": "r"})
    assert missing.status_code == 400 and integration.refunds == []

    first = _call(
        integration, "revoke-access", {"purchase_id": purchase["id"], "reason": "r"}, key="act_1"
    )
    assert first.status_code == 200
    refund = first.json()
    assert (
        refund["refund_id"].startswith("re_")
        and refund["status"] == "refunded"
        and refund["amount"] == 4900
    )
    again = _call(
        integration, "revoke-access", {"purchase_id": purchase["id"], "reason": "r"}, key="act_1"
    )
    assert again.status_code == 200 and again.json() == refund
    assert len(integration.refunds) == 1 and integration.refunds[0]["idempotency_key"] == "act_1"
    assert integration.purchase(purchase["id"])["status"] == "refunded"

    other_key = _call(
        integration, "revoke-access", {"purchase_id": purchase["id"], "reason": "r"}, key="act_2"
    )
    assert other_key.status_code == 409 and len(integration.refunds) == 1
    reused = _call(
        integration, "revoke-access", {"purchase_id": purchase["id"], "reason": "x"}, key="act_1"
    )
    assert reused.status_code == 409
    assert len(integration.calls("revoke-access")) == 5

    p2 = integration.add_purchase(user["id"])
    t = _call(
        integration,
        "transfer-purchase",
        {"purchase_id": p2["id"], "to_email": "new@x.com"},
        key="act_3",
    )
    assert t.status_code == 200 and t.json()["transfer_id"].startswith("tr_")
    assert (
        _call(
            integration,
            "transfer-purchase",
            {"purchase_id": p2["id"], "to_email": "new@x.com"},
            key="act_3",
        ).json()
        == t.json()
    )
    assert len(integration.transfers) == 1
    new_user = integration.user("new@x.com")
    assert (
        _call(integration, "get-purchases", {"user_id": new_user["id"]}).json()["purchases"][0][
            "id"
        ]
        == p2["id"]
    )


def test_integration_accept_then_time_out_and_scripted_failure(integration):
    user = integration.add_user("c@x.com")
    purchase = integration.add_purchase(user["id"])
    data = {"purchase_id": purchase["id"], "reason": "duplicate", "amount": 1000}

    integration.fail_next("revoke-access", 500)
    assert _call(integration, "revoke-access", data, key="act_9").status_code == 500
    assert integration.refunds == []  # a scripted failure applies nothing

    integration.fail_after_apply("revoke-access", delay=3)
    with pytest.raises(httpx.ReadTimeout):
        _call(integration, "revoke-access", data, key="act_9", timeout=0.3)
    assert len(integration.refunds) == 1  # applied although the client saw a timeout
    retry = _call(integration, "revoke-access", data, key="act_9")
    assert (
        retry.status_code == 200
        and retry.json()["refund_id"] == integration.refunds[0]["refund_id"]
    )
    assert retry.json()["amount"] == 1000 and retry.headers["idempotent-replayed"] == "true"
    assert len(integration.refunds) == 1
