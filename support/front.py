"""Front Core API client (httpx): the few calls the workflows make, with typed errors.

What each error means and what a workflow does about it: ``support.front_errors``; the message
shape: ``support.front_message``; both are importable from here too.

A conversation merged into another answers **301** to the conversation it was merged into, for
reads and for writes (``POST .../drafts``, ``.../messages``, ``.../comments``). Redirects are not
followed by httpx (it would re-send a 301'd POST as a GET: the draft or the reply would silently not
be written); ``_request`` sends the same request again for the new conversation, at most
``MAX_MERGE_HOPS`` times, always to the configured API base.

Webhook signatures live in ``support.front_webhook`` (no I/O there).
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import urlsplit

import httpx

from support import http_calls
from support.config import Config
from support.front_errors import (
    FRONT,
    FrontConfigError,
    FrontError,
    FrontNotFound,
    FrontRateLimited,
    FrontUnavailable,
    retry_after_seconds,
)
from support.front_message import Message, expect_obj, expect_results, expect_str

__all__ = [
    "FrontClient",
    "FrontConfigError",
    "FrontError",
    "FrontNotFound",
    "FrontRateLimited",
    "FrontUnavailable",
    "Message",
    "retry_after_seconds",
]

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 15.0
MAX_PAGES = 5
MAX_MERGE_HOPS = 2  # a conversation merged into one that was merged again
REDIRECTS = frozenset({301, 302, 303, 307, 308})


def _path(url: str) -> str:
    """The path of a request URL (relative or absolute), without the query string."""
    return urlsplit(url).path or url.split("?")[0]


_CONVERSATION = re.compile(r"/conversations/(?P<id>[^/?#]+)")


def _merged_url(method: str, url: str, response: httpx.Response) -> str:
    """The same request for the conversation a 301 names. Only the conversation id is taken from
    ``Location`` (the request stays on our API base, so the token never goes anywhere else)."""
    where = f"{method} {_path(url)}"
    location = response.headers.get("location") or ""
    new = _CONVERSATION.search(urlsplit(location).path)
    old = _CONVERSATION.search(url)
    if new is None or old is None:
        raise FrontError(
            f"Front {where} answered {response.status_code} to {location!r}, "
            "which is not a merged conversation",
            status=response.status_code,
        )
    log.info(
        "front.conversation_merged from=%s into=%s request=%s",
        old.group("id"),
        new.group("id"),
        where,
    )
    return url[: old.start("id")] + new.group("id") + url[old.end("id") :]


class FrontClient:
    """One client per unit of work (``with FrontClient.from_config(config) as front: ...``)."""

    def __init__(self, token: str | None, base_url: str, *, timeout: float = TIMEOUT_SECONDS):
        if not token:
            raise FrontConfigError("FRONT_API_TOKEN is not set: the Front API cannot be called")
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=timeout,
            # Never: httpx re-sends a redirected POST as a GET (a reply "sent" that sent nothing).
            # A merged conversation's 301 is handled in ``_request``.
            follow_redirects=False,
        )

    @classmethod
    def from_config(cls, config: Config) -> FrontClient:
        return cls(
            config.front_api_token, config.front_api_base_url, timeout=config.front_timeout_seconds
        )

    def __enter__(self) -> FrontClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- transport ---------------------------------------------------------------------------

    def _request(self, method: str, url: str, *, json: Any = None) -> Any:
        """One Front call. A conversation merged into another answers 301 (for reads and for
        writes): the same request (same method, same body) is sent again for the conversation
        named by ``Location``, at most ``MAX_MERGE_HOPS`` times."""
        for _ in range(MAX_MERGE_HOPS + 1):
            response = self._send(method, url, json)
            if response.status_code not in REDIRECTS:
                return self._answer(method, url, response)
            url = _merged_url(method, url, response)
        raise FrontError(
            f"Front {method} {_path(url)}: more than {MAX_MERGE_HOPS} merged conversations "
            "in a row",
            status=response.status_code,
        )

    def _send(self, method: str, url: str, json: Any) -> httpx.Response:
        where = f"{method} {_path(url)}"
        return http_calls.send(FRONT, where, lambda: self._http.request(method, url, json=json))

    def _answer(self, method: str, url: str, response: httpx.Response) -> Any:
        where = f"{method} {_path(url)}"
        status = response.status_code

        def front_only(code: int, message: str) -> FrontError | None:
            if code == 429:
                wait = retry_after_seconds(response.headers)
                tier = response.headers.get("x-front-tier")
                return FrontRateLimited(
                    f"Front rate limit on {where}{f' (tier {tier})' if tier else ''}; "
                    f"retry after {wait:g} s",
                    wait,
                )
            if code == 404:
                return FrontNotFound(f"Front {where}: not found ({message})", status=404)
            return None

        http_calls.check_status(FRONT, where, response, front_only)
        if status == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise FrontError(
                f"Front {where} answered {status} with a body that is not JSON"
            ) from exc

    # -- reads -------------------------------------------------------------------------------

    def get_message(self, message_id: str) -> Message:
        return Message.parse(self._request("GET", f"/messages/{message_id}"))

    def conversation_messages(self, conversation_id: str, limit: int = 20) -> list[Message]:
        """Up to ``limit`` most recent messages, newest first (follows ``_pagination.next``)."""
        url: str | None = f"/conversations/{conversation_id}/messages?limit={min(limit, 100)}"
        out: list[Message] = []
        pages = 0
        while url and len(out) < limit and pages < MAX_PAGES:
            body = self._request("GET", url)
            out.extend(Message.parse(m) for m in expect_results(body, "messages"))
            pagination = expect_obj(body, "messages").get("_pagination")
            nxt = pagination.get("next") if isinstance(pagination, dict) else None
            url = nxt if isinstance(nxt, str) and nxt else None
            pages += 1
        return out[:limit]

    def conversation_inbox_ids(self, conversation_id: str) -> list[str]:
        body = self._request("GET", f"/conversations/{conversation_id}/inboxes")
        return [expect_str(i.get("id"), "inbox.id") for i in expect_results(body, "inboxes")]

    def inbox_channel_ids(self, inbox_id: str) -> list[str]:
        body = self._request("GET", f"/inboxes/{inbox_id}/channels")
        return [expect_str(c.get("id"), "channel.id") for c in expect_results(body, "channels")]

    def channel_for(self, conversation_id: str, preferred_inbox: str | None = None) -> str:
        """The channel a reply on this conversation goes out from (via its inbox)."""
        inboxes = self.conversation_inbox_ids(conversation_id)
        if preferred_inbox and preferred_inbox in inboxes:
            inboxes = [preferred_inbox] + [i for i in inboxes if i != preferred_inbox]
        for inbox_id in inboxes:
            channels = self.inbox_channel_ids(inbox_id)
            if channels:
                return channels[0]
        raise FrontError(
            f"conversation {conversation_id} has no inbox with a channel to reply from"
        )

    def conversation_drafts(self, conversation_id: str) -> list[Message]:
        body = self._request("GET", f"/conversations/{conversation_id}/drafts")
        return [Message.parse(m) for m in expect_results(body, "drafts")]

    # -- writes ------------------------------------------------------------------------------

    def create_draft(
        self, conversation_id: str, *, body_html: str, channel_id: str, mode: str = "shared"
    ) -> Message:
        """Create a reply draft; returns the draft (its ``id`` and ``version``)."""
        answer = self._request(
            "POST",
            f"/conversations/{conversation_id}/drafts",
            json={"body": body_html, "channel_id": channel_id, "mode": mode},
        )
        expect_str(expect_obj(answer, "draft").get("id"), "draft.id")
        return Message.parse(answer)

    def get_draft(self, draft_id: str) -> Message:
        """A draft as Front has it now (``version`` changes with every edit)."""
        return self.get_message(draft_id)

    def send_reply(
        self,
        conversation_id: str,
        *,
        body_html: str,
        channel_id: str | None = None,
    ) -> str:
        """Send a reply on the conversation (Front answers 202); returns the message uid."""
        payload: dict[str, Any] = {"body": body_html}
        if channel_id:
            payload["channel_id"] = channel_id
        answer = self._request("POST", f"/conversations/{conversation_id}/messages", json=payload)
        uid = expect_obj(answer, "reply").get("message_uid")
        return uid if isinstance(uid, str) else ""

    def delete_draft(self, draft_id: str, version: str) -> None:
        """Delete a draft. Front requires the draft's current ``version`` (``DeleteDraft``:
        ``required: [version]``); read it with ``get_draft`` or keep it from ``create_draft``."""
        if not version:
            raise FrontError(f"deleting draft {draft_id} needs its version")
        self._request("DELETE", f"/drafts/{draft_id}", json={"version": version})

    def comment(self, conversation_id: str, body: str) -> str:
        answer = self._request(
            "POST", f"/conversations/{conversation_id}/comments", json={"body": body}
        )
        return expect_str(expect_obj(answer, "comment").get("id"), "comment.id")

    def assign(self, conversation_id: str, assignee_id: str | None) -> None:
        self._request(
            "PUT", f"/conversations/{conversation_id}/assignee", json={"assignee_id": assignee_id}
        )
