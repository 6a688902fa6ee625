"""Loopback fake of the Anthropic Messages API (``POST /v1/messages``).

Point the real SDK at it: ``anthropic.Anthropic(api_key=fake.api_key, base_url=fake.url)``.

Replies are scripted in a FIFO queue; each request takes the next item:

- ``reply_text(text)``: ``stop_reason: "end_turn"`` with one text block;
- ``reply_tool_use(name, input, tool_id=None, text=None)``: optional text block then a ``tool_use``
  block, ``stop_reason: "tool_use"``;
- ``reply(content, stop_reason)``: any content blocks;
- ``fail(status=429|529|500|..., times=1, retry_after=None)``: Anthropic error bodies
  ``{"type": "error", "error": {"type": ..., "message": ...}}`` with type ``rate_limit_error``,
  ``overloaded_error``, ``api_error``...
  (the SDK retries 408/409/429/5xx itself; ``retry_after`` sets the ``retry-after`` header, seconds,
  floats allowed so tests stay fast).

When the queue is empty, ``responder(request_json)`` (if set) answers; it may return a full message
or just ``{"content": [...], "stop_reason": ...}`` (the rest is filled in). With neither, the fake
answers 500 ``AnthropicFake: no scripted reply`` with ``x-should-retry: false`` so a test fails
loudly at once instead of retrying.

Prompt caching, as the API documents it: ``cache_control`` may sit on a tool, a ``system`` text
block or a message content block; it must be ``{"type": "ephemeral"}`` with an optional ``"ttl"``
of ``"5m"`` or ``"1h"`` (1h breakpoints before 5m ones), and at most 4 blocks may carry one;
anything else is a 400 ``invalid_request_error``. The prefix (tools, then system, then messages) up to
each breakpoint is cached when it is at least ``min_cache_tokens`` long (1024 by default, as for
Sonnet); a later request whose prefix matches a cached one, at a breakpoint or up to 20 blocks
before one, reads it. ``usage`` then reports ``input_tokens`` (after the last cache breakpoint),
``cache_creation_input_tokens``, ``cache_read_input_tokens`` and ``cache_creation`` by TTL.
Tokens are estimated as 4 characters of JSON per token. ``clear_cache()`` forgets everything.

``GET /v1/models`` and ``GET /v1/models/{id}`` answer from ``fake.models`` (default: a few current
ids; unknown id -> 404 ``not_found_error``), with the same key check: a cheap "does the key work,
does the model exist" probe (``flask doctor`` uses it).

Requests are validated like the API does at the shallow level (``model``, ``max_tokens``,
``messages`` required; streaming is refused). The key must match either ``x-api-key`` (the API's
documented header) or ``Authorization: Bearer <key>`` (what anthropic 2.14 actually sends for
``api_key=``: see ``Anthropic._api_key_auth``). Use ``fake.requests`` (each
``.json`` holds model, messages, tools, max_tokens, system) or ``fake.bodies`` /
``fake.last_request``.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import Callable
from typing import Any

from tests.fakes.http import FakeServer, Recorded, Reply, bearer_token

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}

Responder = Callable[[dict[str, Any]], dict[str, Any]]

DEFAULT_MODELS = ("claude-sonnet-4-6", "claude-opus-4-8", "claude-haiku-4-5")
MAX_BREAKPOINTS = 4
LOOKBACK_BLOCKS = 20
CACHE_TTLS = ("5m", "1h")


class InvalidRequest(ValueError):
    """What the API answers 400 ``invalid_request_error`` to."""


def estimate_tokens(value: Any) -> int:
    return max(1, len(json.dumps(value, sort_keys=True, default=str)) // 4)


def _strip_cache(block: Any) -> Any:
    if isinstance(block, dict):
        return {k: v for k, v in block.items() if k != "cache_control"}
    return block


def prompt_blocks(body: dict[str, Any]) -> list[tuple[str, Any]]:
    """The request's cacheable prefix in the API's order: tools, system, messages (one entry per
    block; ``where`` names it for error messages)."""
    out: list[tuple[str, Any]] = []
    tools = body.get("tools") or []
    if not isinstance(tools, list):
        raise InvalidRequest("tools: Input should be a valid list")
    out.extend((f"tools.{i}", t) for i, t in enumerate(tools))
    system = body.get("system")
    if isinstance(system, list):
        for i, b in enumerate(system):
            if not isinstance(b, dict) or b.get("type") != "text" or "text" not in b:
                raise InvalidRequest(f"system.{i}: Input should be a text block")
            out.append((f"system.{i}", b))
    elif system is not None and not isinstance(system, str):
        raise InvalidRequest("system: Input should be a valid string or list of text blocks")
    elif isinstance(system, str):
        out.append(("system", system))
    for i, m in enumerate(body.get("messages") or []):
        content = m.get("content") if isinstance(m, dict) else None
        if isinstance(content, list):
            out.extend((f"messages.{i}.content.{j}", b) for j, b in enumerate(content))
        else:
            out.append((f"messages.{i}.content", content))
    return out


def check_cache_control(blocks: list[tuple[str, Any]]) -> list[tuple[int, str]]:
    """Validate every ``cache_control``; returns the breakpoints as (block index, ttl)."""
    points: list[tuple[int, str]] = []
    for i, (where, block) in enumerate(blocks):
        if not isinstance(block, dict) or "cache_control" not in block:
            continue
        cc = block["cache_control"]
        if cc is None:
            continue
        if not isinstance(cc, dict) or cc.get("type") != "ephemeral":
            raise InvalidRequest(f"{where}.cache_control.type: Input should be 'ephemeral'")
        extra = set(cc) - {"type", "ttl"}
        if extra:
            raise InvalidRequest(
                f"{where}.cache_control.{sorted(extra)[0]}: Extra inputs are not permitted"
            )
        ttl = cc.get("ttl", "5m")
        if ttl not in CACHE_TTLS:
            raise InvalidRequest(f"{where}.cache_control.ttl: Input should be '5m' or '1h'")
        points.append((i, ttl))
    if len(points) > MAX_BREAKPOINTS:
        raise InvalidRequest(
            f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. "
            f"Found {len(points)}."
        )
    ttls = [ttl for _, ttl in points]
    if "5m" in ttls and "1h" in ttls[ttls.index("5m") :]:
        raise InvalidRequest(
            "a ttl='1h' cache_control block must not come after a ttl='5m' cache_control block"
        )
    return points


def anthropic_error(status: int, message: str | None = None) -> dict[str, Any]:
    etype = ERROR_TYPES.get(status, "api_error")
    return {
        "type": "error",
        "error": {"type": etype, "message": message or f"Scripted {etype} ({status})"},
    }


class AnthropicFake(FakeServer):
    """Fake Anthropic API. ``AnthropicFake(api_key="sk-ant-test")``."""

    def __init__(
        self,
        api_key: str = "sk-ant-test-key",
        *,
        responder: Responder | None = None,
        models: tuple[str, ...] = DEFAULT_MODELS,
        min_cache_tokens: int = 1024,
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.responder = responder
        self.models = list(models)
        self.min_cache_tokens = min_cache_tokens
        self._reset_state()

    def _reset_state(self) -> None:
        self._queue: deque[dict[str, Any]] = deque()
        self._n = 0
        self._cache: set[str] = set()

    def clear_cache(self) -> None:
        with self.lock:
            self._cache.clear()

    # -- scripting ---------------------------------------------------------------------------

    def reply(self, content: list[dict[str, Any]], stop_reason: str = "end_turn") -> None:
        with self.lock:
            self._queue.append({"kind": "reply", "content": content, "stop_reason": stop_reason})

    def reply_text(self, text: str, stop_reason: str = "end_turn") -> None:
        self.reply([{"type": "text", "text": text}], stop_reason)

    def reply_tool_use(
        self,
        name: str,
        input: dict[str, Any],
        tool_id: str | None = None,
        text: str | None = None,  # noqa: A002
    ) -> str:
        """Queue a tool call; returns its ``tool_use`` id (to check the next ``tool_result``)."""
        with self.lock:
            self._n += 1
            tool_id = tool_id or f"toolu_01FAKE{self._n:018d}"
        content: list[dict[str, Any]] = []
        if text:
            content.append({"type": "text", "text": text})
        content.append({"type": "tool_use", "id": tool_id, "name": name, "input": input})
        self.reply(content, "tool_use")
        return tool_id

    def fail(
        self,
        status: int = 429,
        times: int = 1,
        retry_after: float | None = None,
        message: str | None = None,
    ) -> None:
        headers = {"retry-after": str(retry_after)} if retry_after is not None else {}
        with self.lock:
            for _ in range(times):
                self._queue.append(
                    {
                        "kind": "fail",
                        "status": status,
                        "body": anthropic_error(status, message),
                        "headers": headers,
                    }
                )

    @property
    def pending(self) -> int:
        """Scripted items not consumed yet (assert 0 at the end of a test)."""
        with self.lock:
            return len(self._queue)

    # -- accessors ---------------------------------------------------------------------------

    @property
    def bodies(self) -> list[dict[str, Any]]:
        """Parsed JSON of every ``/v1/messages`` request."""
        return [r.json for r in self.calls("POST /v1/messages") if isinstance(r.json, dict)]

    @property
    def last_request(self) -> dict[str, Any]:
        bodies = self.bodies
        if not bodies:
            raise AssertionError("AnthropicFake received no /v1/messages request")
        return bodies[-1]

    def error_body(self, status: int, req: Recorded) -> Any:
        return anthropic_error(status)

    # -- handling ----------------------------------------------------------------------------

    def handle(self, req: Recorded) -> Reply:
        if req.method == "GET" and req.path.rstrip("/").startswith("/v1/models"):
            return self._models(req)
        if req.path.rstrip("/") != "/v1/messages" or req.method != "POST":
            return Reply(404, anthropic_error(404, f"Not found: {req.method} {req.path}"))
        if self.api_key not in (req.header("x-api-key"), bearer_token(req)):
            return Reply(
                401, anthropic_error(401, "invalid x-api-key"), {"x-should-retry": "false"}
            )
        body = req.json
        if not isinstance(body, dict):
            return Reply(400, anthropic_error(400, "body must be a JSON object"))
        missing = [k for k in ("model", "max_tokens", "messages") if k not in body]
        if missing:
            return Reply(400, anthropic_error(400, f"{missing[0]}: Field required"))
        if body.get("stream"):
            return Reply(400, anthropic_error(400, "AnthropicFake does not support stream=true"))
        if not body["messages"] or body["messages"][0].get("role") != "user":
            return Reply(
                400, anthropic_error(400, "messages: first message must use the user role")
            )
        try:
            blocks = prompt_blocks(body)
            breakpoints = check_cache_control(blocks)
        except InvalidRequest as exc:
            return Reply(400, anthropic_error(400, str(exc)))

        item = self._queue.popleft() if self._queue else None
        if item is not None and item["kind"] == "fail":
            return Reply(item["status"], item["body"], item["headers"])
        if item is not None:
            result = {"content": item["content"], "stop_reason": item["stop_reason"]}
        elif self.responder is not None:
            result = self.responder(body)
        else:
            return Reply(
                500,
                anthropic_error(
                    500, "AnthropicFake: no scripted reply (queue empty and no responder)"
                ),
                {"x-should-retry": "false"},
            )
        message = self._message(body, result)
        message["usage"] = {**self._usage(body, blocks, breakpoints), **message["usage"]}
        return Reply(200, message, {"request-id": f"req_fake{self._n:08d}"})

    def _usage(
        self, body: dict[str, Any], blocks: list[tuple[str, Any]], points: list[tuple[int, str]]
    ) -> dict[str, Any]:
        """Input tokens split into cache reads, cache writes and the rest, like the API."""
        keys: list[str] = []
        sizes: list[int] = []
        digest = hashlib.sha256(str(body["model"]).encode())
        total = 0
        for _, block in blocks:
            stripped = _strip_cache(block)
            digest.update(json.dumps(stripped, sort_keys=True, default=str).encode())
            keys.append(digest.hexdigest())
            total += estimate_tokens(stripped)
            sizes.append(total)
        read = 0
        for index, _ in points:
            for j in range(index, max(-1, index - LOOKBACK_BLOCKS), -1):
                if keys[j] in self._cache:
                    read = max(read, sizes[j])
                    break
        cacheable = [(i, ttl) for i, ttl in points if sizes[i] >= self.min_cache_tokens]
        write = 0
        ttl = "5m"
        if cacheable:
            last, ttl = cacheable[-1]
            write = max(0, sizes[last] - read)
            self._cache.update(keys[i] for i, _ in cacheable)
        return {
            "input_tokens": max(0, total - read - write),
            "cache_creation_input_tokens": write,
            "cache_read_input_tokens": read,
            "cache_creation": {
                "ephemeral_5m_input_tokens": write if ttl == "5m" else 0,
                "ephemeral_1h_input_tokens": write if ttl == "1h" else 0,
            },
        }

    def _models(self, req: Recorded) -> Reply:
        if self.api_key not in (req.header("x-api-key"), bearer_token(req)):
            return Reply(
                401, anthropic_error(401, "invalid x-api-key"), {"x-should-retry": "false"}
            )
        entries = {
            m: {
                "type": "model",
                "id": m,
                "display_name": m,
                "created_at": "2026-01-01T00:00:00Z",
            }
            for m in self.models
        }
        wanted = req.path.rstrip("/")[len("/v1/models") :].lstrip("/")
        if not wanted:
            data = list(entries.values())
            return Reply(
                200,
                {
                    "data": data,
                    "has_more": False,
                    "first_id": data[0]["id"] if data else None,
                    "last_id": data[-1]["id"] if data else None,
                },
            )
        if wanted not in entries:
            return Reply(404, anthropic_error(404, f"model: {wanted}"))
        return Reply(200, entries[wanted])

    def _message(self, request: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
        self._n += 1
        content = result.get("content", [])
        out_text = json.dumps(content)
        message = {
            "id": f"msg_01FAKE{self._n:018d}",
            "type": "message",
            "role": "assistant",
            "model": request["model"],
            "content": content,
            "stop_reason": result.get(
                "stop_reason",
                "tool_use" if any(b.get("type") == "tool_use" for b in content) else "end_turn",
            ),
            "stop_sequence": None,
            "usage": {"output_tokens": max(1, len(out_text) // 4)},
        }
        for key, value in result.items():
            if key not in ("content", "stop_reason"):
                message[key] = value
        return message
