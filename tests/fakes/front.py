"""Loopback fake of the Front Core API, plus builders for signed Front application webhooks.

Server side (``FrontFake``)
---------------------------
Point the client's API base (normally ``https://api2.frontapp.com``) at ``fake.url``. Every request
needs ``Authorization: Bearer <token>``, else 401
``{"_error": {"status": 401, "title": "Unauthorized", "message": ...}}``.

Seed with ``add_inbox``, ``add_conversation``, ``add_message``; ``merge_conversation(old, into)``
makes the old conversation answer 301 with a ``Location`` to the new one.

Endpoints::

    GET    /me                                  {"_links", "id", "name": "Company"}
    GET    /messages/{id}
    GET    /conversations/{id}
    GET    /conversations/{id}/messages         newest first; ?limit= (default 50, max 100);
                                                _pagination.next is an absolute URL or null
    GET    /conversations/{id}/inboxes
    GET    /inboxes/{id}/channels
    GET    /conversations/{id}/drafts           the conversation's drafts not deleted
    POST   /conversations/{id}/drafts           needs body + channel_id (else 400) -> draft message
    PATCH  /drafts/{id}                         edit a draft (body, channel_id): version + 1
    DELETE /drafts/{id}                         needs {"version": <the draft's current version>}
                                                (400 without it, 409 when stale) -> 204
    POST   /conversations/{id}/messages         send a reply -> 202 {"status", "message_uid"}
    POST   /channels/{id}/messages              new outbound conversation -> 202
    POST   /conversations/{id}/comments         needs body -> 201 comment
    PUT    /conversations/{id}/assignee         {"assignee_id"} -> 204

Failures: ``fail_next("/conversations/*/messages", 500)``, ``rate_limit_next(key, retry_after=2)``
(429 with ``retry-after`` seconds, ``x-ratelimit-reset`` and Front's ``_error`` body);
``limit_rate(per_minute)`` counts requests like Front does. Every answer carries
``x-ratelimit-limit`` / ``-remaining`` / ``-reset`` (https://dev.frontapp.com/docs/rate-limiting).

Client side (what Front sends to ``/webhooks/front``)
------------------------------------------------------
``signed_webhook(secret, envelope)``: JSON body with ``X-Front-Signature`` =
base64(HMAC-SHA256(secret, f"{ts}:" + body)) and ``X-Front-Request-Timestamp`` = ts in milliseconds.
Envelopes: ``inbound_event``, ``outbound_event``, ``sync_event``; ``challenge_delivery`` adds the
``x-front-challenge`` header.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import math
import re
import time
from concurrent.futures import Executor, Future
from typing import Any

import httpx

from tests.contracts import front as contract
from tests.fakes.http import FakeServer, Recorded, Reply, bearer_token, locked_list

_TITLES = {
    301: "Moved Permanently",
    400: "Bad request",
    401: "Unauthorized",
    404: "Not found",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}

API_BASE_FOR_LINKS = "https://api2.frontapp.com"
COMPANY_ID = "cmp_fake01"  # the Front company the webhook deliveries come from
AGENT = {"id": "tea_fake01", "email": "agent@app.com", "username": "agent"}  # who sends our replies
DEFAULT_RATE_LIMIT = 50  # requests per minute on Front's Starter plan


def front_error(status: int, message: str) -> dict[str, Any]:
    return {"_error": {"status": status, "title": _TITLES.get(status, "Error"), "message": message}}


def _draft_version(draft_id: str, n: int) -> str:
    """An opaque version string like Front's (``551ba368...-26028-1701804863304-945c``)."""
    digest = hashlib.md5(draft_id.encode()).hexdigest()  # noqa: S324 - not security
    return f"{digest}-{n}-{1701804863304 + n}"


def _version_number(version: str) -> int:
    return int(version.split("-")[1])


def front_markup(body: str) -> str:
    """A body as Front stores it: Front keeps a draft in its own markup, so what comes back from
    ``GET`` is not, byte for byte, what was posted (paragraphs become ``<div>``, ``<strong>`` /
    ``<em>`` become ``<b>`` / ``<i>``, whitespace between tags and ``&quot;`` go). The words stay."""
    out = re.sub(r">\s+<", "><", body.strip())
    for ours, front in (("p", "div"), ("strong", "b"), ("em", "i")):
        out = re.sub(rf"<{ours}(\s[^>]*)?>", f"<{front}>", out)
        out = out.replace(f"</{ours}>", f"</{front}>")
    return out.replace("&quot;", '"')


def _public(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored object without the fake's own bookkeeping keys (``_conversation_id``...)."""
    return {k: v for k, v in stored.items() if k == "_links" or not k.startswith("_")}


def _strip_html(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", text)).strip()


def make_message(
    message_id: str,
    *,
    text: str = "Hello, I need help with my purchase.",
    subject: str = "Help",
    from_email: str = "customer@example.com",
    to_email: str = "support@app.com",
    reply_to: str | None = None,
    is_inbound: bool = True,
    created_at: float | None = None,
    body: str | None = None,
    author: dict[str, Any] | None = None,
    base_url: str = API_BASE_FOR_LINKS,
) -> dict[str, Any]:
    """A Front message object (as in ``GET /messages/{id}`` and webhook ``target.data``)."""
    if is_inbound:
        recipients = [{"handle": from_email, "role": "from"}, {"handle": to_email, "role": "to"}]
    else:
        recipients = [{"handle": to_email, "role": "from"}, {"handle": from_email, "role": "to"}]
    if reply_to:
        recipients.append({"handle": reply_to, "role": "reply-to"})
    for r in recipients:
        r["_links"] = {"related": {"contact": None}}
    html_body = (
        body
        if body is not None
        else "".join(f"<p>{html.escape(line)}</p>" for line in text.split("\n"))
    )
    return {
        "_links": {
            "self": f"{base_url}/messages/{message_id}",
            "related": {"conversation": None, "message_replied_to": None},
        },
        "id": message_id,
        "type": "email",
        "is_inbound": is_inbound,
        "is_draft": False,
        "draft_mode": None,
        "error_type": None,
        "version": None,
        "created_at": created_at if created_at is not None else round(time.time(), 3),
        "blurb": text[:100],
        "subject": subject,
        "body": html_body,
        "text": text,
        "author": author,
        "recipients": recipients,
        "attachments": [],
        "signature": None,
        "metadata": {},
    }


class FrontFake(FakeServer):
    """Fake Front Core API with an in-memory store.

    Accessors (copies): ``drafts`` (one dict per created draft: conversation_id, channel_id,
    request, draft), ``draft_edits``, ``deleted_drafts``, ``sent`` (replies and new messages:
    conversation_id or channel_id, request, message_uid), ``comments``, ``assignments``;
    ``conversation_messages(cnv_id)``.
    """

    def __init__(self, token: str = "front-test-token", *, company: str = "Company") -> None:
        super().__init__()
        self.token = token
        self.company = company
        self._reset_state()

    def _reset_state(self) -> None:
        self._inboxes: dict[str, dict[str, Any]] = {}
        self._channels: dict[str, dict[str, Any]] = {}
        self._conversations: dict[str, dict[str, Any]] = {}
        self._messages: dict[str, dict[str, Any]] = {}
        self._merged: dict[str, str] = {}
        self._drafts: list[dict[str, Any]] = []
        self._draft_store: dict[str, dict[str, Any]] = {}
        self._draft_edits: list[dict[str, Any]] = []
        self._deleted_drafts: list[str] = []
        self._sent: list[dict[str, Any]] = []
        self._comments: list[dict[str, Any]] = []
        self._assignments: list[dict[str, Any]] = []
        self._n = 0
        self._violations: list[str] = []
        self._limit: int | None = None
        self._window: tuple[float, int] = (time.time(), 0)

    def _next(self) -> int:
        self._n += 1
        return self._n

    # -- seeding -----------------------------------------------------------------------------

    def add_inbox(
        self,
        inbox_id: str,
        channel_ids: list[str] | None = None,
        *,
        name: str | None = None,
        address: str = "support@app.com",
    ) -> dict[str, Any]:
        """An inbox with its channels (default one channel ``cha_<inbox suffix>``)."""
        channel_ids = (
            channel_ids if channel_ids is not None else ["cha_" + inbox_id.split("_", 1)[-1]]
        )
        with self.lock:
            inbox = {
                "_links": {"self": f"{self._base}/inboxes/{inbox_id}"},
                "id": inbox_id,
                "name": name or f"Inbox {inbox_id}",
                "is_private": False,
                "is_public": True,
                "address": address,
                "send_as": address,
                "type": "smtp",
            }
            self._inboxes[inbox_id] = {"inbox": inbox, "channels": list(channel_ids)}
            for cid in channel_ids:
                self._channels[cid] = {
                    "_links": {
                        "self": f"{self._base}/channels/{cid}",
                        "related": {"inbox": inbox["_links"]["self"]},
                    },
                    "id": cid,
                    "address": address,
                    "send_as": address,
                    "name": f"Channel {cid}",
                    "type": "smtp",
                    "is_private": False,
                    "is_valid": True,
                }
            return inbox

    def add_conversation(
        self,
        cnv_id: str,
        inbox_id: str,
        subject: str = "Help",
        messages: list[dict[str, Any]] | None = None,
        *,
        status: str = "unassigned",
    ) -> dict[str, Any]:
        """A conversation in ``inbox_id``. Each item of ``messages`` is either a full message
        (has ``_links``) or keyword arguments for ``add_message``; give them oldest first."""
        with self.lock:
            if inbox_id not in self._inboxes:
                self.add_inbox(inbox_id)
            self._conversations[cnv_id] = {
                "id": cnv_id,
                "subject": subject,
                "status": status,
                "inbox_ids": [inbox_id],
                "message_ids": [],
                "assignee": None,
                "created_at": round(time.time(), 3),
            }
            for m in messages or []:
                if "_links" in m and "id" in m:
                    self._messages[m["id"]] = dict(m)
                    self._conversations[cnv_id]["message_ids"].append(m["id"])
                else:
                    self.add_message(cnv_id, **m)
            return self._conversation_json(cnv_id)

    def add_message(
        self, cnv_id: str, message_id: str | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """Append a message (``make_message`` keyword arguments) to a conversation; returns it."""
        with self.lock:
            conv = self._conversations[cnv_id]
            message_id = message_id or f"msg_{self._next():04d}"
            kwargs.setdefault("subject", conv["subject"])
            if kwargs.get("created_at") is None and conv["message_ids"]:
                last = self._messages[conv["message_ids"][-1]]["created_at"]
                kwargs["created_at"] = max(round(time.time(), 3), last + 1)
            message = make_message(message_id, base_url=self._base, **kwargs)
            message["_links"]["related"]["conversation"] = f"{self._base}/conversations/{cnv_id}"
            self._messages[message_id] = message
            conv["message_ids"].append(message_id)
            return dict(message)

    def merge_conversation(self, old_id: str, into_id: str) -> None:
        """Requests for ``old_id`` (and its sub-resources) answer 301 to ``into_id``."""
        with self.lock:
            self._merged[old_id] = into_id

    def rate_limit_next(
        self,
        key: str = "*",
        retry_after: int | None = 1,
        times: int = 1,
        *,
        reset_in: float | None = None,
        tier: str | None = None,
    ) -> None:
        """The next ``times`` matching requests answer 429 as Front does: ``retry-after`` in
        seconds (left out when ``None``) and ``x-ratelimit-reset``, the UNIX time the window
        resets (``reset_in`` seconds from now; default ``retry_after``); ``tier`` adds
        ``x-front-tier`` (the burst limits of resource-intensive routes)."""
        headers = {"x-ratelimit-remaining": "0"}
        if retry_after is not None:
            headers["retry-after"] = str(retry_after)
        wait = reset_in if reset_in is not None else (retry_after or 60)
        headers["x-ratelimit-reset"] = str(int(time.time() + wait))
        if tier:
            headers["x-front-tier"] = tier
        self.fail_next(key, 429, headers=headers, times=times)

    def limit_rate(self, per_minute: int | None) -> None:
        """Count requests per minute like Front (per company): past ``per_minute`` in the current
        window, answer 429 with ``retry-after`` = the seconds left in it. ``None`` turns it off."""
        with self.lock:
            self._limit = per_minute
            self._window = (time.time(), 0)

    # -- accessors ---------------------------------------------------------------------------

    @property
    def _base(self) -> str:
        return self.url if self._server is not None else API_BASE_FOR_LINKS

    def _copy(self, items: list[Any]) -> list[Any]:
        with self.lock:
            return json.loads(json.dumps(items))

    # what the service sent, each a deep copy taken under the lock
    drafts = locked_list("_drafts", deep=True)
    draft_edits = locked_list("_draft_edits", deep=True)
    deleted_drafts = locked_list("_deleted_drafts", deep=True)
    sent = locked_list("_sent", deep=True)
    comments = locked_list("_comments", deep=True)
    assignments = locked_list("_assignments", deep=True)

    def conversation_messages(self, cnv_id: str) -> list[dict[str, Any]]:
        """Stored messages of a conversation, oldest first."""
        with self.lock:
            return self._copy(
                [self._messages[m] for m in self._conversations[cnv_id]["message_ids"]]
            )

    def error_body(self, status: int, req: Recorded) -> Any:
        return front_error(status, f"Scripted failure {status}")

    # -- handling ----------------------------------------------------------------------------

    _ROUTES = [
        ("GET", r"/me", "_me"),
        ("GET", r"/messages/(?P<id>[^/]+)", "_get_message"),
        ("GET", r"/conversations/(?P<id>[^/]+)", "_get_conversation"),
        ("GET", r"/conversations/(?P<id>[^/]+)/messages", "_list_messages"),
        ("GET", r"/conversations/(?P<id>[^/]+)/inboxes", "_conversation_inboxes"),
        ("GET", r"/inboxes/(?P<id>[^/]+)/channels", "_inbox_channels"),
        ("GET", r"/conversations/(?P<id>[^/]+)/drafts", "_list_drafts"),
        ("POST", r"/conversations/(?P<id>[^/]+)/drafts", "_create_draft"),
        ("PATCH", r"/drafts/(?P<id>[^/]+)", "_edit_draft"),
        ("DELETE", r"/drafts/(?P<id>[^/]+)", "_delete_draft"),
        ("POST", r"/conversations/(?P<id>[^/]+)/messages", "_reply"),
        ("POST", r"/channels/(?P<id>[^/]+)/messages", "_new_message"),
        ("POST", r"/conversations/(?P<id>[^/]+)/comments", "_comment"),
        ("PUT", r"/conversations/(?P<id>[^/]+)/assignee", "_assign"),
    ]

    def finish(self, req: Recorded, reply: Reply) -> Reply:
        """Front sends its rate-limit headers on every answer."""
        with self.lock:
            start, used = self._window
            limit = self._limit or DEFAULT_RATE_LIMIT
            headers = {
                "x-ratelimit-limit": str(limit),
                "x-ratelimit-remaining": str(max(limit - used, 0)),
                "x-ratelimit-reset": str(int(start + 60)),
            }
        for name in list(headers):
            if any(k.lower() == name for k in reply.headers):
                del headers[name]
        return Reply(reply.status, reply.body, {**reply.headers, **headers})

    def _over_the_limit(self) -> Reply | None:
        if self._limit is None:
            return None
        now = time.time()
        start, used = self._window
        if now - start >= 60:
            start, used = now, 0
        if used >= self._limit:
            self._window = (start, used)
            wait = max(1, math.ceil(start + 60 - now))
            return Reply(
                429,
                front_error(429, "Rate limit exceeded"),
                {"retry-after": str(wait), "x-ratelimit-remaining": "0"},
            )
        self._window = (start, used + 1)
        return None

    def handle(self, req: Recorded) -> Reply:
        token = bearer_token(req)
        if token != self.token:
            return Reply(401, front_error(401, "Invalid or missing API token"))
        limited = self._over_the_limit()
        if limited is not None:
            return limited
        path = req.path.rstrip("/") or "/"
        operation = contract.find(req.method, path)
        if operation is None:  # Front has no such operation (or we never agreed to call it)
            self._violations.append(f"{req.method} {path}: not an operation of the contract table")
            if contract.path_known(path):
                return Reply(405, front_error(405, f"{req.method} not allowed on {path}"))
            return Reply(404, front_error(404, f"Unknown route {req.method} {path}"))
        name, ident = self._route(req.method, path)
        if path.startswith("/conversations/") and ident in self._merged:
            target = self._merged[ident]
            new_path = path.replace(f"/conversations/{ident}", f"/conversations/{target}", 1)
            return Reply(
                301,
                front_error(301, f"Conversation {ident} was merged into {target}"),
                {"Location": self.url + new_path},
            )
        unknown = operation.unknown_query(req.query)
        if unknown:  # Front ignores them; we must not rely on what Front ignores
            self._violations.append(f"{operation.operation_id}: unknown query {unknown}")
        problems = operation.problems(req.json if req.body else None)
        if problems:
            self._violations.append(f"{operation.operation_id}: {'; '.join(problems)}")
            return Reply(400, front_error(400, f"{operation.operation_id}: {'; '.join(problems)}"))
        if path.startswith("/conversations/") and ident not in self._conversations:
            return Reply(404, front_error(404, f"Unknown conversation {ident}"))
        reply: Reply = getattr(self, name)(req, ident)
        if 200 <= reply.status < 300 and reply.status != operation.success:
            raise AssertionError(
                f"the fake answered {reply.status} to {operation.operation_id}; "
                f"Front answers {operation.success}"
            )
        return reply

    def _route(self, method: str, path: str) -> tuple[str, str | None]:
        for verb, pattern, name in self._ROUTES:
            m = re.fullmatch(pattern, path)
            if m and method == verb:
                return name, m.groupdict().get("id")
        raise AssertionError(f"the contract table has {method} {path} but the fake serves it not")

    @property
    def contract_violations(self) -> list[str]:
        """Requests that broke the contract table (unknown operation, body not as specified)."""
        with self.lock:
            return list(self._violations)

    def _body(self, req: Recorded, *required: str) -> dict[str, Any] | Reply:
        """The request's JSON object; Front's 400 when it is none or a ``required`` field is
        missing or empty."""
        if req.json is None or not isinstance(req.json, dict):
            return Reply(400, front_error(400, "Body must be a JSON object"))
        missing = [k for k in required if not req.json.get(k)]
        if missing:
            return Reply(400, front_error(400, f"Missing required field(s): {', '.join(missing)}"))
        return req.json

    def _me(self, req: Recorded, _: str | None) -> Reply:
        return Reply(
            200, {"_links": {"self": f"{self.url}/me"}, "id": COMPANY_ID, "name": self.company}
        )

    def _get_message(self, req: Recorded, message_id: str) -> Reply:
        message = self._messages.get(message_id) or self._draft_store.get(message_id)
        if message is None:
            return Reply(404, front_error(404, f"Unknown message {message_id}"))
        return Reply(200, _public(message))

    def _conversation_json(self, cnv_id: str) -> dict[str, Any]:
        conv = self._conversations[cnv_id]
        self_url = f"{self._base}/conversations/{cnv_id}"
        last = self._messages[conv["message_ids"][-1]] if conv["message_ids"] else None
        customer = None
        if last is not None:
            customer = next((r for r in last["recipients"] if r["role"] == "from"), None)
        return {
            "_links": {
                "self": self_url,
                "related": {
                    "events": f"{self_url}/events",
                    "followers": f"{self_url}/followers",
                    "messages": f"{self_url}/messages",
                    "comments": f"{self_url}/comments",
                    "inboxes": f"{self_url}/inboxes",
                    "last_message": last["_links"]["self"] if last else None,
                },
            },
            "id": cnv_id,
            "subject": conv["subject"],
            "status": conv["status"],
            "assignee": conv["assignee"],
            "recipient": customer,
            "tags": [],
            "links": [],
            "custom_fields": {},
            "created_at": conv["created_at"],
            "is_private": False,
            "scheduled_reminders": [],
            "metadata": {},
        }

    def _get_conversation(self, req: Recorded, cnv_id: str) -> Reply:
        return Reply(200, self._conversation_json(cnv_id))

    def _list_messages(self, req: Recorded, cnv_id: str) -> Reply:
        try:
            limit = max(1, min(100, int(req.query.get("limit", "50"))))
            offset = int(req.query.get("page_token", "0") or 0)
        except ValueError:
            return Reply(400, front_error(400, "Invalid limit or page_token"))
        ids = list(reversed(self._conversations[cnv_id]["message_ids"]))  # newest first, as Front
        page = ids[offset : offset + limit]
        next_url = None
        if offset + limit < len(ids):
            next_url = (
                f"{self.url}/conversations/{cnv_id}/messages"
                f"?limit={limit}&page_token={offset + limit}"
            )
        return Reply(
            200,
            {
                "_pagination": {"next": next_url},
                "_links": {"self": f"{self.url}/conversations/{cnv_id}/messages"},
                "_results": [self._messages[i] for i in page],
            },
        )

    def _conversation_inboxes(self, req: Recorded, cnv_id: str) -> Reply:
        inboxes = [self._inboxes[i]["inbox"] for i in self._conversations[cnv_id]["inbox_ids"]]
        return Reply(
            200,
            {"_links": {"self": f"{self.url}/conversations/{cnv_id}/inboxes"}, "_results": inboxes},
        )

    def _inbox_channels(self, req: Recorded, inbox_id: str) -> Reply:
        if inbox_id not in self._inboxes:
            return Reply(404, front_error(404, f"Unknown inbox {inbox_id}"))
        channels = [self._channels[c] for c in self._inboxes[inbox_id]["channels"]]
        return Reply(
            200,
            {"_links": {"self": f"{self.url}/inboxes/{inbox_id}/channels"}, "_results": channels},
        )

    def _draft_message(
        self, draft_id: str, cnv_id: str | None, data: dict[str, Any], version: int
    ) -> dict:
        channel = self._channels[data["channel_id"]]
        to = data.get("to") or []
        if not to and cnv_id:
            conv = self._conversations[cnv_id]
            inbound = [
                self._messages[m] for m in conv["message_ids"] if self._messages[m]["is_inbound"]
            ]
            if inbound:
                rcp = inbound[-1]["recipients"]
                reply_to = [r["handle"] for r in rcp if r["role"] == "reply-to"]
                to = reply_to or [r["handle"] for r in rcp if r["role"] == "from"]
        text = _strip_html(data["body"])
        return {
            "_links": {
                "self": f"{self.url}/messages/{draft_id}",
                "related": {
                    "conversation": f"{self.url}/conversations/{cnv_id}" if cnv_id else None
                },
            },
            "id": draft_id,
            "type": "email",
            "is_inbound": False,
            "is_draft": True,
            "draft_mode": data.get("mode", "shared"),
            "error_type": None,
            "version": _draft_version(draft_id, version),
            "created_at": round(time.time(), 3),
            "blurb": text[:100],
            "subject": data.get("subject")
            or (self._conversations[cnv_id]["subject"] if cnv_id else ""),
            "body": front_markup(data["body"]),
            "text": text,
            "author": {"id": data["author_id"]} if data.get("author_id") else None,
            "recipients": [{"handle": channel["address"], "role": "from"}]
            + [{"handle": h, "role": "to"} for h in to],
            "attachments": [],
            "signature": None,
            "metadata": {},
        }

    def _check_draft_body(self, data: dict[str, Any]) -> Reply | None:
        missing = [k for k in ("body", "channel_id") if not data.get(k)]
        if missing:
            return Reply(400, front_error(400, f"Missing required field(s): {', '.join(missing)}"))
        if data["channel_id"] not in self._channels:
            return Reply(404, front_error(404, f"Unknown channel {data['channel_id']}"))
        if data.get("mode", "shared") not in ("shared", "private"):
            return Reply(400, front_error(400, "mode must be shared or private"))
        return None

    def _store_draft(
        self, cnv_id: str, data: dict[str, Any], version: int, draft_id: str
    ) -> dict[str, Any]:
        """Store the draft as Front keeps it; returns the public draft message."""
        draft = self._draft_message(draft_id, cnv_id, data, version)
        self._draft_store[draft_id] = {
            **draft,
            "_conversation_id": cnv_id,
            "_channel_id": data["channel_id"],
        }
        return draft

    def _list_drafts(self, req: Recorded, cnv_id: str) -> Reply:
        drafts = [_public(d) for d in self._draft_store.values() if d["_conversation_id"] == cnv_id]
        return Reply(
            200,
            {"_links": {"self": f"{self.url}/conversations/{cnv_id}/drafts"}, "_results": drafts},
        )

    def _create_draft(self, req: Recorded, cnv_id: str) -> Reply:
        data = self._body(req)
        if isinstance(data, Reply):
            return data
        error = self._check_draft_body(data)
        if error:
            return error
        draft_id = f"msg_draft_{len(self._drafts) + 1}"
        draft = self._store_draft(cnv_id, data, 1, draft_id)
        self._drafts.append(
            {
                "conversation_id": cnv_id,
                "channel_id": data["channel_id"],
                "request": data,
                "draft": draft,
            }
        )
        return Reply(200, draft)

    def _edit_draft(self, req: Recorded, draft_id: str) -> Reply:
        data = self._body(req)
        if isinstance(data, Reply):
            return data
        stored = self._draft_store.get(draft_id)
        if stored is None:
            return Reply(404, front_error(404, f"Unknown draft {draft_id}"))
        error = self._check_draft_body(data)
        if error:
            return error
        if data.get("version") and data["version"] != stored["version"]:
            return Reply(409, front_error(409, "Draft version conflict"))
        version = _version_number(stored["version"]) + 1
        draft = self._store_draft(stored["_conversation_id"], data, version, draft_id)
        self._draft_edits.append({"draft_id": draft_id, "request": data, "draft": draft})
        return Reply(200, draft)

    def edit_draft_in_front(self, draft_id: str, body: str) -> str:
        """A teammate edits the draft in Front's UI: the body changes and the version moves on.
        Returns the new version."""
        with self.lock:
            stored = self._draft_store[draft_id]
            version = _version_number(stored["version"]) + 1
            data = {"body": body, "channel_id": stored["_channel_id"], "mode": stored["draft_mode"]}
            self._store_draft(stored["_conversation_id"], data, version, draft_id)
            return str(self._draft_store[draft_id]["version"])

    def _delete_draft(self, req: Recorded, draft_id: str) -> Reply:
        # DeleteDraft: {"version": string}, required. Front refuses a delete without it.
        data = req.json if isinstance(req.json, dict) else None
        if data is None or not isinstance(data.get("version"), str) or not data["version"]:
            return Reply(
                400, front_error(400, "Body must be a JSON object with a string field: version")
            )
        stored = self._draft_store.get(draft_id)
        if stored is None:
            return Reply(404, front_error(404, f"Unknown draft {draft_id}"))
        if data["version"] != stored["version"]:
            return Reply(409, front_error(409, "Draft version conflict: read the draft again"))
        del self._draft_store[draft_id]
        self._deleted_drafts.append(draft_id)
        return Reply(204)

    def _reply(self, req: Recorded, cnv_id: str) -> Reply:
        data = self._body(req, "body")
        if isinstance(data, Reply):
            return data
        if data.get("channel_id") and data["channel_id"] not in self._channels:
            return Reply(404, front_error(404, f"Unknown channel {data['channel_id']}"))
        uid = f"uid_{self._next():06d}"
        conv = self._conversations[cnv_id]
        inbound = [
            self._messages[m] for m in conv["message_ids"] if self._messages[m]["is_inbound"]
        ]
        customer = inbound[-1]["recipients"][0]["handle"] if inbound else "customer@example.com"
        self.add_message(
            cnv_id,
            f"msg_out_{uid}",
            text=_strip_html(data["body"]),
            body=data["body"],
            from_email=customer,
            is_inbound=False,
        )
        self._sent.append({"conversation_id": cnv_id, "request": data, "message_uid": uid})
        return Reply(202, {"status": "accepted", "message_uid": uid})

    def _new_message(self, req: Recorded, channel_id: str) -> Reply:
        data = self._body(req)
        if isinstance(data, Reply):
            return data
        if channel_id not in self._channels:
            return Reply(404, front_error(404, f"Unknown channel {channel_id}"))
        missing = [k for k in ("body", "to") if not data.get(k)]
        if missing:
            return Reply(400, front_error(400, f"Missing required field(s): {', '.join(missing)}"))
        uid = f"uid_{self._next():06d}"
        self._sent.append({"channel_id": channel_id, "request": data, "message_uid": uid})
        return Reply(202, {"status": "accepted", "message_uid": uid})

    def _comment(self, req: Recorded, cnv_id: str) -> Reply:
        data = self._body(req, "body")
        if isinstance(data, Reply):
            return data
        comment_id = f"com_{self._next():04d}"
        comment = {
            "_links": {
                "self": f"{self.url}/comments/{comment_id}",
                "related": {
                    "conversations": f"{self.url}/conversations/{cnv_id}",
                    "mentions": None,
                },
            },
            "id": comment_id,
            "author": {"id": data["author_id"]} if data.get("author_id") else None,
            "body": data["body"],
            "posted_at": round(time.time(), 3),
            "attachments": [],
            "is_pinned": False,
        }
        self._comments.append({"conversation_id": cnv_id, "request": data, "comment": comment})
        return Reply(201, comment)

    def _assign(self, req: Recorded, cnv_id: str) -> Reply:
        data = self._body(req)
        if isinstance(data, Reply):
            return data
        if "assignee_id" not in data:
            return Reply(400, front_error(400, "Missing required field(s): assignee_id"))
        assignee = data["assignee_id"]
        self._conversations[cnv_id]["assignee"] = {"id": assignee} if assignee else None
        self._conversations[cnv_id]["status"] = "assigned" if assignee else "unassigned"
        self._assignments.append({"conversation_id": cnv_id, "assignee_id": assignee})
        return Reply(204)


# -- what Front sends to us ---------------------------------------------------------------------


def front_signature(secret: str, timestamp_ms: int | str, body: bytes) -> str:
    """base64(HMAC-SHA256(secret, f"{timestamp}:" + body))."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}:".encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def signed_webhook(
    secret: str,
    envelope: dict[str, Any],
    timestamp_ms: int | None = None,
    *,
    challenge: str | None = None,
) -> tuple[bytes, dict[str, str]]:
    """Body and headers of an application webhook delivery, signed like Front does."""
    body = json.dumps(envelope).encode()
    return body, webhook_headers(secret, body, timestamp_ms, challenge=challenge)


def webhook_headers(
    secret: str, body: bytes, timestamp_ms: int | None = None, *, challenge: str | None = None
) -> dict[str, str]:
    """The headers Front sends with a delivery of ``body`` (any bytes): JSON content type,
    timestamp, signature, and ``x-front-challenge`` when setting the webhook up."""
    ts = int(time.time() * 1000) if timestamp_ms is None else int(timestamp_ms)
    headers = {
        "Content-Type": "application/json",
        "X-Front-Request-Timestamp": str(ts),
        "X-Front-Signature": front_signature(secret, ts, body),
    }
    if challenge is not None:
        headers["x-front-challenge"] = challenge
    return headers


def post_all(
    pool: Executor, url: str, deliveries: list[tuple[bytes, dict[str, str]]], timeout: float
) -> list[Future[httpx.Response]]:
    """POST each signed delivery (``signed_webhook``'s body and headers) to ``url`` from ``pool``,
    all at once, as Front does for many conversations; each waits ``timeout`` for its answer."""
    return [
        pool.submit(httpx.post, url, content=body, headers=headers, timeout=timeout)
        for body, headers in deliveries
    ]


def _event(
    event_type: str, event_id: str, conversation_id: str, inbox_id: str, message: dict[str, Any]
) -> dict[str, Any]:
    """The webhook envelope of ``message`` in ``conversation_id`` (linked to it here)."""
    conversation_url = f"{API_BASE_FOR_LINKS}/conversations/{conversation_id}"
    message["_links"]["related"]["conversation"] = conversation_url
    emitted = round(time.time(), 3)
    return {
        "type": event_type,
        "authorization": {"id": COMPANY_ID},
        "payload": {
            "_links": {"self": f"{API_BASE_FOR_LINKS}/events/{event_id}"},
            "id": event_id,
            "type": event_type,
            "emitted_at": emitted,
            "conversation": {
                "_links": {"self": conversation_url},
                "id": conversation_id,
                "subject": message["subject"],
                "status": "unassigned",
                "assignee": None,
                "recipient": next((r for r in message["recipients"] if r["role"] == "from"), None),
                "tags": [],
                "links": [],
                "created_at": emitted,
                "is_private": False,
                "scheduled_reminders": [],
                "metadata": {},
            },
            "source": {
                "_meta": {"type": "inboxes"},
                "data": [
                    {
                        "_links": {"self": f"{API_BASE_FOR_LINKS}/inboxes/{inbox_id}"},
                        "id": inbox_id,
                        "name": f"Inbox {inbox_id}",
                        "is_private": False,
                        "is_public": True,
                    }
                ],
            },
            "target": {"_meta": {"type": "message"}, "data": message},
        },
    }


def inbound_event(
    event_id: str,
    conversation_id: str,
    inbox_id: str,
    message_id: str,
    from_email: str,
    subject: str,
    text: str,
    reply_to: str | None = None,
    *,
    event_type: str = "inbound",
) -> dict[str, Any]:
    """Application-webhook envelope for an inbound message (``event_type`` may be
    ``"inbound_received"``, as the original also saw), sent to the support address."""
    message = make_message(
        message_id, text=text, subject=subject, from_email=from_email, reply_to=reply_to
    )
    return _event(event_type, event_id, conversation_id, inbox_id, message)


def outbound_event(
    event_id: str,
    conversation_id: str,
    inbox_id: str,
    message_id: str,
    to_email: str,
    subject: str,
    text: str,
    *,
    event_type: str = "outbound",
) -> dict[str, Any]:
    """Envelope for a message we sent (``event_type`` ``"outbound"`` or ``"out_reply"``) from the
    support address, written by ``AGENT``."""
    message = make_message(
        message_id,
        text=text,
        subject=subject,
        from_email=to_email,
        is_inbound=False,
        author=dict(AGENT),
    )
    return _event(event_type, event_id, conversation_id, inbox_id, message)


def sync_event(company_id: str = COMPANY_ID) -> dict[str, Any]:
    """The ``sync`` delivery Front sends when the webhook is set up (no event payload)."""
    return {"type": "sync", "authorization": {"id": company_id}, "payload": {}}


def challenge_delivery(
    secret: str, challenge: str = "front-challenge-token", timestamp_ms: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """The setup request: a signed ``sync`` body with header ``x-front-challenge``; the endpoint
    must answer 200 echoing the challenge."""
    return signed_webhook(secret, sync_event(), timestamp_ms, challenge=challenge)
