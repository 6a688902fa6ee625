"""Loopback fake of the Slack Web API, plus builders for signed requests Slack sends to us.

Server side (``SlackFake``)
---------------------------
Web API methods live under ``/api/<method>``; point the real client at it with a trailing slash::

    with SlackFake(token="xoxb-test") as slack:
        client = WebClient(token="xoxb-test", base_url=slack.url + "/api/")

Requests may be form-encoded (``blocks`` / ``view`` as JSON strings: both are decoded), JSON, or GET
query strings, as slack_sdk sends them. ``Authorization: Bearer <token>`` must equal the configured
token: otherwise ``{"ok": false, "error": "not_authed" | "invalid_auth"}``.

Implemented methods: ``auth.test``, ``chat.postMessage`` (with message ``metadata``),
``chat.update``, ``chat.postEphemeral``, ``chat.getPermalink``, ``conversations.history`` (with
``include_all_metadata``), ``views.open``, ``views.publish``, ``views.update``, ``users.info``.
Message ``ts`` values are the posting time, as Slack's are. Unknown
methods answer 404 ``unknown_method``. ``fake.response_url(key)`` gives a ``response_url`` whose
POSTs are recorded in ``fake.responses``.

Every call's arguments are checked as Slack documents them (``tests/contracts/slack.py``: required
arguments, ``text`` / ``blocks``, Block Kit limits, ``trigger_id`` expiry); a refusal is answered
like Slack (HTTP 200 ``ok: false``) and listed in ``contract_violations``. ``trigger_id()`` mints a
trigger id that ``views.open`` refuses 3 s after it was issued.

Failures: ``fail_next("chat.postMessage", 500)``, ``rate_limit_next(method, retry_after=1)`` (429
with ``Retry-After``), ``error_next(method, "channel_not_found")`` (HTTP 200 ``ok: false``),
``slow_next("chat.postMessage", 11)`` (the post is applied at once, the answer comes after the
client's timeout: the client sees a failure although the message exists).

Client side (what Slack sends to ``/slack/events``)
----------------------------------------------------
``signed_interaction`` (form body ``payload=<json>``) and ``signed_event`` (JSON Events API body)
sign with ``v0=hex(HMAC-SHA256(secret, "v0:{ts}:{body}"))`` exactly like Slack;
``block_actions_payload``, ``view_submission_payload``, ``app_home_opened_event`` and
``url_verification_body`` build realistic bodies.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

from tests.contracts import slack as slack_contract
from tests.fakes.http import FakeServer, Recorded, Reply, bearer_token, locked_list

JSON_FIELDS = ("blocks", "attachments", "view", "metadata")

# The workspace, bot and app the fake plays (``auth.test`` answers with them); the payload builders
# below describe messages and views of the same app.
TEAM_ID = "T0TEST001"  # the default; ``SlackFake(team_id=...)`` plays another
TEAM_NAME = "T Team"
TEAM_DOMAIN = "tteam"
BOT_USER_ID = "U0BOT0001"
BOT_USER = "supportbot"
BOT_ID = "B0BOT0001"
APP_ID = "A0APP0001"

_ERROR_FOR_STATUS = {429: "ratelimited", 500: "fatal_error", 503: "service_unavailable"}


def _invalid_arguments(argument: str) -> dict[str, Any]:
    """Slack's answer to a call missing a required argument."""
    return {
        "ok": False,
        "error": "invalid_arguments",
        "response_metadata": {"messages": [argument]},
    }


class SlackFake(FakeServer):
    """Fake Slack Web API.

    Accessors (copies, safe to read while the server runs):
      ``messages``        {(channel, ts): message} current state (chat.update applied)
      ``message(ch, ts)`` one stored message (KeyError if unknown); seed with ``add_message``
      ``posted``          chat.postMessage argument dicts, in order
      ``updates``         chat.update argument dicts
      ``ephemerals``      chat.postEphemeral argument dicts
      ``views_opened`` / ``views_published`` / ``views_updated``  argument dicts
      ``responses``       [{"key", "json", "body", "headers"}] POSTs to response URLs
    """

    def __init__(self, token: str = "xoxb-test-token", *, team_id: str = TEAM_ID) -> None:
        super().__init__()
        self.token = token
        self.team_id = team_id
        self._reset_state()

    def _reset_state(self) -> None:
        self._messages: dict[tuple[str, str], dict[str, Any]] = {}
        self._posted: list[dict[str, Any]] = []
        self._updates: list[dict[str, Any]] = []
        self._ephemerals: list[dict[str, Any]] = []
        self._views: dict[str, dict[str, Any]] = {}
        self._views_opened: list[dict[str, Any]] = []
        self._views_published: list[dict[str, Any]] = []
        self._views_updated: list[dict[str, Any]] = []
        self._responses: list[dict[str, Any]] = []
        self._users: dict[str, dict[str, Any]] = {}
        self._counter = 0
        self._last_micros = 0
        self._minted: set[str] = set()
        self._violations: list[str] = []

    # -- accessors ---------------------------------------------------------------------------

    @property
    def messages(self) -> dict[tuple[str, str], dict[str, Any]]:
        with self.lock:
            return {k: json.loads(json.dumps(v)) for k, v in self._messages.items()}

    def message(self, channel: str, ts: str) -> dict[str, Any]:
        with self.lock:
            return json.loads(json.dumps(self._messages[(channel, ts)]))

    # what the app sent, each a copy taken under the lock
    posted = locked_list("_posted")
    updates = locked_list("_updates")
    ephemerals = locked_list("_ephemerals")
    views_opened = locked_list("_views_opened")
    views_published = locked_list("_views_published")
    views_updated = locked_list("_views_updated")
    responses = locked_list("_responses")

    def response_url(self, key: str = "default") -> str:
        """A ``response_url`` served by this fake; POSTs land in ``responses`` with this key."""
        return f"{self.url}/response/{key}"

    def add_user(
        self, user_id: str, name: str = "alice", *, email: str | None = None, **extra: Any
    ) -> dict:
        """Seed a user for ``users.info``."""
        user = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "real_name": name.title(),
            "deleted": False,
            "is_bot": False,
            "tz": "Europe/Berlin",
            "profile": {
                "real_name": name.title(),
                "display_name": name,
                "email": email or f"{name}@example.com",
            },
            **extra,
        }
        with self.lock:
            self._users[user_id] = user
        return user

    def add_message(
        self, channel: str, ts: str, text: str = "", blocks: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """Seed a bot message (e.g. one a test pretends was posted earlier) for ``chat.update``."""
        message = self._bot_message(channel, ts, text, blocks)
        with self.lock:
            self._messages[(channel, ts)] = message
        return dict(message)

    def _bot_message(
        self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]] | None
    ) -> dict[str, Any]:
        """A message as Slack stores what our bot posted."""
        return {
            "type": "message",
            "channel": channel,
            "ts": ts,
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "team": self.team_id,
            "text": text,
            "blocks": blocks or [],
        }

    # -- scripting helpers -------------------------------------------------------------------

    def rate_limit_next(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        """HTTP 429 ``ratelimited`` with ``Retry-After`` seconds."""
        self.fail_next(method, 429, headers={"Retry-After": str(retry_after)}, times=times)

    def error_next(self, method: str, error: str, times: int = 1) -> None:
        """HTTP 200 ``{"ok": false, "error": error}`` (how Slack reports most failures)."""
        self.fail_next(method, 200, body={"ok": False, "error": error}, times=times)

    def names(self, req: Recorded) -> set[str]:
        if req.path.startswith("/api/"):
            return {req.path[len("/api/") :]}
        return set()

    def error_body(self, status: int, req: Recorded) -> Any:
        return {"ok": False, "error": _ERROR_FOR_STATUS.get(status, f"http_{status}")}

    # -- handling ----------------------------------------------------------------------------

    def handle(self, req: Recorded) -> Reply:
        if req.path.startswith("/response/"):
            self._responses.append(
                {
                    "key": req.path[len("/response/") :],
                    "json": req.json,
                    "body": req.body,
                    "headers": req.headers,
                }
            )
            return Reply(200, {"ok": True})
        if not req.path.startswith("/api/"):
            return Reply(404, {"ok": False, "error": "not_found"})
        method = req.path[len("/api/") :]
        token = bearer_token(req)
        if token is None:
            return Reply(200, {"ok": False, "error": "not_authed"})
        if token != self.token:
            return Reply(200, {"ok": False, "error": "invalid_auth"})
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return Reply(404, {"ok": False, "error": "unknown_method"})
        args = _decode_args(req.data)
        refused = slack_contract.check(method, args, minted=self._minted)
        if refused is not None:  # Slack's arguments contract (tests/contracts/slack.py)
            self._violations.append(
                f"{method}: {refused['error']} {refused.get('response_metadata', '')}"
            )
            return Reply(200, refused)
        result = handler(args)
        return Reply(200, result)

    def trigger_id(self, issued_at: float | None = None) -> str:
        """A ``trigger_id`` as Slack gives with an interaction: ``views.open`` refuses it
        (``expired_trigger_id``) once 3 s have passed since ``issued_at`` (default: now)."""
        trigger = slack_contract.mint_trigger_id(issued_at)
        with self.lock:
            self._minted.add(trigger)
        return trigger

    @property
    def contract_violations(self) -> list[str]:
        """Calls Slack would refuse for their arguments (answered ``ok: false``)."""
        with self.lock:
            return list(self._violations)

    def _next_ts(self) -> str:
        """Like Slack: the posting time, ``seconds.micros``, unique and increasing per fake."""
        self._counter += 1
        micros = max(int(time.time() * 1_000_000), self._last_micros + 1)
        self._last_micros = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _m_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": TEAM_NAME,
            "user": BOT_USER,
            "team_id": self.team_id,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _m_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args.get("channel")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not (args.get("text") or args.get("blocks") or args.get("attachments")):
            return {"ok": False, "error": "no_text"}
        problem = _metadata_problem(args.get("metadata"))
        if problem:
            return {"ok": False, "error": problem}
        ts = self._next_ts()
        message = self._bot_message(channel, ts, args.get("text", ""), args.get("blocks"))
        for key in ("attachments", "metadata", "thread_ts"):
            if args.get(key):
                message[key] = args[key]
        self._posted.append(args)
        self._messages[(channel, ts)] = message
        return {"ok": True, "channel": channel, "ts": ts, "message": _public(message)}

    def _m_chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = args.get("channel"), args.get("ts")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        message = self._messages.get((channel, str(ts)))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        # Like Slack: fields not given are kept; ``blocks=[]`` removes the blocks.
        for key in ("text", "blocks", "attachments", "metadata"):
            if key in args:
                message[key] = args[key]
        message["edited"] = {"user": BOT_USER_ID, "ts": self._next_ts()}
        self._updates.append(args)
        return {
            "ok": True,
            "channel": channel,
            "ts": message["ts"],
            "text": message.get("text", ""),
            "message": _public(message),
        }

    def _m_chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not args.get("user"):
            return {"ok": False, "error": "user_not_in_channel"}
        if not (args.get("text") or args.get("blocks") or args.get("attachments")):
            return {"ok": False, "error": "no_text"}
        self._ephemerals.append(args)
        return {"ok": True, "message_ts": self._next_ts()}

    def _m_chat_getPermalink(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = args.get("channel"), str(args.get("message_ts", ""))
        if (channel, ts) not in self._messages:
            return {"ok": False, "error": "message_not_found"}
        return {
            "ok": True,
            "channel": channel,
            "permalink": (
                f"https://{TEAM_DOMAIN}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
            ),
        }

    def _new_view(self, view: dict[str, Any], default_type: str) -> dict[str, Any]:
        view_id = f"V{len(self._views) + 1:010d}"
        stored = {
            "id": view_id,
            "team_id": self.team_id,
            "type": view.get("type", default_type),
            "blocks": view.get("blocks", []),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "external_id": view.get("external_id", ""),
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{view_id}",
            "title": view.get("title"),
            "submit": view.get("submit"),
            "close": view.get("close"),
            "root_view_id": view_id,
            "previous_view_id": None,
            "app_id": APP_ID,
            "bot_id": BOT_ID,
        }
        self._views[view_id] = stored
        return stored

    def _m_views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        to_whom = args.get("trigger_id") or args.get("interactivity_pointer")
        return self._show_view(args, to_whom, "trigger_id", "modal", self._views_opened)

    def _m_views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._show_view(args, args.get("user_id"), "user_id", "home", self._views_published)

    def _show_view(
        self, args: dict[str, Any], to_whom: Any, argument: str, kind: str, shown: list[Any]
    ) -> dict[str, Any]:
        """``views.open`` / ``views.publish``: refused without whom to show it to (``argument``)
        or without a view object."""
        if not to_whom:
            return _invalid_arguments(argument)
        if not isinstance(args.get("view"), dict):
            return _invalid_arguments("view")
        shown.append(args)
        return {"ok": True, "view": self._new_view(args["view"], kind)}

    def _m_views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(args.get("view"), dict):
            return {"ok": False, "error": "invalid_arguments"}
        view_id = args.get("view_id")
        if not view_id and args.get("external_id"):
            view_id = next(
                (v["id"] for v in self._views.values() if v["external_id"] == args["external_id"]),
                None,
            )
        if not view_id or view_id not in self._views:
            return {"ok": False, "error": "not_found"}
        stored = self._views[view_id]
        for key in ("blocks", "private_metadata", "callback_id", "title", "submit", "close"):
            if key in args["view"]:
                stored[key] = args["view"][key]
        self._views_updated.append(args)
        return {"ok": True, "view": stored}

    def _m_conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        """Like Slack: top-level messages (no thread replies), newest first, ``oldest``/``latest``
        exclusive unless ``inclusive``, ``limit`` (default 100, at most 999) with a cursor, and
        message ``metadata`` only with ``include_all_metadata``."""
        channel = args.get("channel")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        try:
            limit = int(args.get("limit") or 100)
            oldest = float(args.get("oldest") or 0)
            latest = float(args.get("latest") or time.time() + 1)
            offset = int(str(args.get("cursor") or "off:0").removeprefix("off:"))
        except ValueError:
            return {"ok": False, "error": "invalid_arguments"}
        if not 0 < limit <= 999:
            return {"ok": False, "error": "invalid_limit"}
        inclusive = _truthy(args.get("inclusive"))
        with_metadata = _truthy(args.get("include_all_metadata"))
        found = []
        for (ch, ts), message in self._messages.items():
            if ch != channel or message.get("thread_ts") not in (None, ts):
                continue
            at = float(ts)
            if oldest < at < latest or (inclusive and at in (oldest, latest)):
                found.append(message)
        found.sort(key=lambda m: float(m["ts"]), reverse=True)
        page = found[offset : offset + limit]
        more = offset + limit < len(found)
        messages = []
        for message in page:
            shown = _public(message)
            if not with_metadata:
                shown.pop("metadata", None)
            messages.append(shown)
        return {
            "ok": True,
            "messages": messages,
            "has_more": more,
            "pin_count": 0,
            "response_metadata": {"next_cursor": f"off:{offset + limit}" if more else ""},
        }

    def _m_users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self._users.get(str(args.get("user")))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": user}


def _decode_args(data: dict[str, Any]) -> dict[str, Any]:
    """Decode the JSON-string fields slack_sdk sends in form bodies (``blocks``, ``view``...)."""
    out = dict(data)
    for key in JSON_FIELDS:
        value = out.get(key)
        if isinstance(value, str) and value[:1] in ("[", "{"):
            try:
                out[key] = json.loads(value)
            except ValueError:
                pass
    return out


def _truthy(value: Any) -> bool:
    """A Web API boolean as clients send it (``true``, ``1``; slack_sdk sends ``1``)."""
    return str(value).lower() in ("1", "true")


def _metadata_problem(metadata: Any) -> str | None:
    """Slack's check of ``chat.postMessage`` ``metadata``: an object with a string ``event_type``
    and an object ``event_payload``."""
    if metadata is None:
        return None
    if (
        not isinstance(metadata, dict)
        or not isinstance(metadata.get("event_type"), str)
        or not isinstance(metadata.get("event_payload"), dict)
    ):
        return "invalid_metadata_format"
    return None


def _public(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if k != "channel"}


# -- what Slack sends to us ---------------------------------------------------------------------


def sign(signing_secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """``X-Slack-Request-Timestamp`` and ``X-Slack-Signature`` for ``body``."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    signature = SignatureVerifier(signing_secret).generate_signature(timestamp=str(ts), body=body)
    return {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": signature}


def signed_interaction(
    signing_secret: str, payload: dict[str, Any], timestamp: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """Body and headers of an interactivity POST: form-encoded ``payload=<json>``, signed."""
    body = urlencode({"payload": json.dumps(payload)}).encode()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        **sign(signing_secret, body, timestamp),
    }
    return body, headers


def signed_event(
    signing_secret: str, event_body: dict[str, Any], timestamp: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """Body and headers of a signed Events API POST (``event_callback``, ``url_verification``)."""
    body = json.dumps(event_body).encode()
    headers = {"Content-Type": "application/json", **sign(signing_secret, body, timestamp)}
    return body, headers


def _user(user_id: str, team_id: str, username: str) -> dict[str, str]:
    return {"id": user_id, "username": username, "name": username, "team_id": team_id}


def block_actions_payload(
    action_id: str,
    value: str,
    user_id: str = "U0APPROVER",
    team_id: str = TEAM_ID,
    channel_id: str = "C0APPROVALS",
    message_ts: str = "1700000001.000100",
    response_url: str = "https://hooks.slack.com/actions/T0TEST001/1/xyz",
    trigger_id: str = "13345224609.738474920.8088930838d88f008e0",
    *,
    username: str = "alice",
    message: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A ``block_actions`` payload for a button click on a message.

    Pass ``message=slack_fake.message(channel, ts)`` to carry the clicked message's real blocks.
    """
    now = f"{time.time():.6f}"
    msg = (
        dict(message)
        if message
        else {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "ts": message_ts,
            "text": "Approval requested",
            "blocks": [],
        }
    )
    msg.pop("channel", None)
    msg.setdefault("ts", message_ts)
    action = {
        "action_id": action_id,
        "block_id": "approval_actions",
        "text": {"type": "plain_text", "text": action_id.replace("_", " ").title(), "emoji": True},
        "value": value,
        "type": "button",
        "action_ts": now,
    }
    return {
        "type": "block_actions",
        "user": _user(user_id, team_id, username),
        "api_app_id": APP_ID,
        "token": "verification-token-unused",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": False,
        },
        "trigger_id": trigger_id,
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": "support-approvals"},
        "message": msg,
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [action],
    }


def text_input_state(block_id: str, action_id: str, value: str | None) -> dict[str, Any]:
    """``view.state.values`` for one plain-text input: ``{block_id: {action_id: {...}}}``."""
    return {block_id: {action_id: {"type": "plain_text_input", "value": value}}}


def view_submission_payload(
    callback_id: str,
    private_metadata: str = "",
    state_values: dict[str, Any] | None = None,
    user_id: str = "U0APPROVER",
    team_id: str = TEAM_ID,
    *,
    username: str = "alice",
    trigger_id: str = "13345224609.738474920.8088930838d88f008e1",
) -> dict[str, Any]:
    """A ``view_submission`` payload (modal submitted). ``state_values`` as ``text_input_state``."""
    view_id = "V0000000001"
    return {
        "type": "view_submission",
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "user": _user(user_id, team_id, username),
        "api_app_id": APP_ID,
        "token": "verification-token-unused",
        "trigger_id": trigger_id,
        "view": {
            "id": view_id,
            "team_id": team_id,
            "type": "modal",
            "blocks": [],
            "private_metadata": private_metadata,
            "callback_id": callback_id,
            "state": {"values": state_values or {}},
            "hash": "1700000000.abcdef",
            "title": {"type": "plain_text", "text": "Support agent", "emoji": True},
            "clear_on_close": False,
            "notify_on_close": False,
            "close": {"type": "plain_text", "text": "Cancel", "emoji": True},
            "submit": {"type": "plain_text", "text": "Submit", "emoji": True},
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": APP_ID,
            "external_id": "",
            "app_installed_team_id": team_id,
            "bot_id": BOT_ID,
        },
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def event_callback(event: dict[str, Any], team_id: str = TEAM_ID) -> dict[str, Any]:
    """Wrap an inner event in the Events API ``event_callback`` envelope."""
    now = int(time.time())
    return {
        "token": "verification-token-unused",
        "team_id": team_id,
        "context_team_id": team_id,
        "context_enterprise_id": None,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": f"Ev{now:010d}",
        "event_time": now,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }


def app_home_opened_event(user_id: str = "U0APPROVER", team_id: str = TEAM_ID) -> dict[str, Any]:
    """A full ``event_callback`` body for ``app_home_opened`` (Home tab opened)."""
    event = {
        "type": "app_home_opened",
        "user": user_id,
        "channel": "D0HOME0001",
        "tab": "home",
        "event_ts": f"{time.time():.6f}",
    }
    return event_callback(event, team_id)


def url_verification_body(
    challenge: str = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
) -> dict:
    return {
        "token": "verification-token-unused",
        "challenge": challenge,
        "type": "url_verification",
    }
