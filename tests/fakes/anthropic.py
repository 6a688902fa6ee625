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
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.responder = responder
        self.models = list(models)
        self._reset_state()

    def _reset_state(self) -> None:
        self._queue: deque[dict[str, Any]] = deque()
        self._n = 0

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
        return Reply(200, self._message(body, result), {"request-id": f"req_fake{self._n:08d}"})

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
            "usage": {
                "input_tokens": max(1, len(json.dumps(request.get("messages", []))) // 4),
                "output_tokens": max(1, len(out_text) // 4),
            },
        }
        for key, value in result.items():
            if key not in ("content", "stop_reason"):
                message[key] = value
        return message
