"""Front Core API client (httpx): the few calls the workflows make, with typed errors.

Errors say what a workflow should do about them:

* ``FrontConfigError`` (401/403, or no ``FRONT_API_TOKEN``): a configuration problem. Retrying cannot
  help; workflows raise ``inngest.NonRetriableError`` with its message, which names the variable.
* ``FrontRateLimited`` (429): carries ``retry_after`` seconds read from Front's ``Retry-After``
  (else ``X-RateLimit-Reset``, see ``retry_after_seconds``); workflows raise
  ``inngest.RetryAfterError`` so the step runs again after that delay.
* ``FrontUnavailable`` (5xx, timeouts, connection errors): transient. Steps that write (drafts,
  replies) are retried; ``gather-context`` instead falls back at once to what the webhook carried
  and flags the context as degraded (reading more history is not worth delaying the answer).
* ``FrontNotFound`` (404) and ``FrontError`` (other 4xx, or a response that is not the expected
  shape): the request or the data is wrong; a clear message, never a ``KeyError`` deep inside.

A conversation merged into another answers **301** to the conversation it was merged into, for
reads and for writes (``POST .../drafts``, ``.../messages``, ``.../comments``). Redirects are not
followed by httpx (it would re-send a 301'd POST as a GET: the draft or the reply would silently not
be written); ``_request`` sends the same request again for the new conversation, at most
``MAX_MERGE_HOPS`` times, always to the configured API base.

Webhook signatures live in ``support.front_webhook`` (no I/O there).
"""

from __future__ import annotations

import email.utils
import logging
import math
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from support import metrics
from support.config import Config

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 15.0
DEFAULT_RETRY_AFTER = 5.0
MAX_RETRY_AFTER = 900.0  # Front's windows are a minute long; a larger value is a bad header
MAX_PAGES = 5
MAX_MERGE_HOPS = 2  # a conversation merged into one that was merged again
REDIRECTS = frozenset({301, 302, 303, 307, 308})


class FrontError(Exception):
    """A Front call failed or answered something this client cannot use."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class FrontConfigError(FrontError):
    """401/403 or a missing token: fix FRONT_API_TOKEN (retrying does not help)."""


class FrontNotFound(FrontError):
    """404: the conversation, message, inbox or draft does not exist."""


class FrontUnavailable(FrontError):
    """5xx, timeout or connection error: worth retrying."""


class FrontRateLimited(FrontError):
    """429: retry after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message, status=429)
        self.retry_after = retry_after


def retry_after_seconds(headers: httpx.Headers, now: float | None = None) -> float:
    """How long Front asks us to wait after a 429, as Front documents its headers
    (https://dev.frontapp.com/docs/rate-limiting):

    * ``Retry-After``: seconds to wait (sent with every 429; also on the burst limits of
      resource-intensive routes, where ``X-RateLimit-Remaining`` may still be above 0). An HTTP
      date (RFC 9110) is accepted too.
    * ``X-RateLimit-Reset``: the UNIX timestamp at which the window resets (sent on every answer);
      used when ``Retry-After`` is missing or unreadable. Seconds; a value in milliseconds is
      recognised by its size.

    Header names are case-insensitive (``httpx.Headers``). Without either: ``DEFAULT_RETRY_AFTER``.
    The result is within [0, ``MAX_RETRY_AFTER``].
    """
    now = time.time() if now is None else now
    wait = _seconds(headers.get("retry-after"), now)
    if wait is None:
        reset = _number(headers.get("x-ratelimit-reset"))
        if reset is not None and reset > 0:
            wait = (reset / 1000 if reset > 1e11 else reset) - now
    if wait is None:
        return DEFAULT_RETRY_AFTER
    return min(max(wait, 0.0), MAX_RETRY_AFTER)


def _number(value: str | None) -> float | None:
    try:
        number = float(value) if value else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) else None


def _seconds(value: str | None, now: float) -> float | None:
    number = _number(value)
    if number is not None:
        return number
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when.timestamp() - now if when.tzinfo is not None else None


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


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict) and isinstance(body.get("_error"), dict):
        return str(body["_error"].get("message") or body["_error"].get("title") or "")
    return str(body)[:200]


def _obj(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise FrontError(f"Front answered an unexpected shape: {where} is not an object")
    return value


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise FrontError(f"Front answered an unexpected shape: {where} is not a non-empty string")
    return value


def _results(body: Any, where: str) -> list[dict[str, Any]]:
    results = _obj(body, where).get("_results")
    if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
        raise FrontError(f"Front answered an unexpected shape: {where}._results is not a list")
    return results


def _from_handle(message: dict[str, Any]) -> str | None:
    """The ``from`` recipient's handle, stripped; None when there is none."""
    recipients = message.get("recipients")
    for r in recipients if isinstance(recipients, list) else []:
        if isinstance(r, dict) and r.get("role") == "from" and isinstance(r.get("handle"), str):
            return r["handle"].strip() or None
    return None


@dataclass(frozen=True)
class Message:
    """The fields of a Front message the workflows use (validated)."""

    id: str
    is_inbound: bool
    text: str
    subject: str | None
    created_at: float
    customer_email: str | None
    is_draft: bool = False
    body_html: str = ""
    version: str | None = None  # drafts: Front's current version (DELETE /drafts/{id} needs it)
    sender_email: str | None = None
    """Who sent it: the ``from`` recipient's handle (never ``reply-to``, unlike ``customer_email``,
    which is where an answer goes). The customer's identity, whose account the agent may read."""

    @classmethod
    def parse(cls, raw: Any) -> Message:
        from support.front_webhook import customer_address

        m = _obj(raw, "message")
        message_id = _str(m.get("id"), "message.id")
        text = m.get("text")
        body = m.get("body")
        if not isinstance(text, str):
            text = body if isinstance(body, str) else ""
        created = m.get("created_at")
        if not isinstance(created, int | float):
            raise FrontError(f"Front message {message_id}: created_at is not a number")
        subject = m.get("subject")
        version = m.get("version")
        return cls(
            id=message_id,
            is_inbound=bool(m.get("is_inbound")),
            text=text,
            subject=subject if isinstance(subject, str) else None,
            created_at=float(created),
            customer_email=customer_address(m),
            is_draft=bool(m.get("is_draft")),
            body_html=body if isinstance(body, str) else "",
            version=version if isinstance(version, str) and version else None,
            sender_email=_from_handle(m),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "isInbound": self.is_inbound,
            "text": self.text,
            "subject": self.subject,
            "createdAt": self.created_at,
            "customerEmail": self.customer_email,
        }


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
        try:
            return self._http.request(method, url, json=json)
        except httpx.TimeoutException as exc:
            metrics.call_error("front", "timeout")
            raise FrontUnavailable(f"Front {where} timed out") from exc
        except httpx.HTTPError as exc:
            metrics.call_error("front", "connection")
            raise FrontUnavailable(f"Front {where} failed: {exc}") from exc

    def _answer(self, method: str, url: str, response: httpx.Response) -> Any:
        where = f"{method} {_path(url)}"
        status = response.status_code
        if status >= 400:
            metrics.call_error("front", status)
        if status in (401, 403):
            raise FrontConfigError(
                f"Front refused {where} ({status}: {_error_message(response)}): "
                "check FRONT_API_TOKEN and its scopes",
                status=status,
            )
        if status == 429:
            wait = retry_after_seconds(response.headers)
            tier = response.headers.get("x-front-tier")
            raise FrontRateLimited(
                f"Front rate limit on {where}{f' (tier {tier})' if tier else ''}; "
                f"retry after {wait:g} s",
                wait,
            )
        if status == 404:
            raise FrontNotFound(
                f"Front {where}: not found ({_error_message(response)})", status=404
            )
        if status >= 500:
            raise FrontUnavailable(
                f"Front {where} answered {status}: {_error_message(response)}", status=status
            )
        if status >= 400:
            raise FrontError(
                f"Front {where} answered {status}: {_error_message(response)}", status=status
            )
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
            out.extend(Message.parse(m) for m in _results(body, "messages"))
            pagination = _obj(body, "messages").get("_pagination")
            nxt = pagination.get("next") if isinstance(pagination, dict) else None
            url = nxt if isinstance(nxt, str) and nxt else None
            pages += 1
        return out[:limit]

    def conversation_inbox_ids(self, conversation_id: str) -> list[str]:
        body = self._request("GET", f"/conversations/{conversation_id}/inboxes")
        return [_str(i.get("id"), "inbox.id") for i in _results(body, "inboxes")]

    def inbox_channel_ids(self, inbox_id: str) -> list[str]:
        body = self._request("GET", f"/inboxes/{inbox_id}/channels")
        return [_str(c.get("id"), "channel.id") for c in _results(body, "channels")]

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
        return [Message.parse(m) for m in _results(body, "drafts")]

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
        _str(_obj(answer, "draft").get("id"), "draft.id")
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
        uid = _obj(answer, "reply").get("message_uid")
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
        return _str(_obj(answer, "comment").get("id"), "comment.id")

    def assign(self, conversation_id: str, assignee_id: str | None) -> None:
        self._request(
            "PUT", f"/conversations/{conversation_id}/assignee", json={"assignee_id": assignee_id}
        )
