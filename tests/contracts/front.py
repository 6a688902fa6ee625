"""The project's own contract table for the Front Core API operations it uses.

Derived from Front's published OpenAPI document (frontapp/front-api-specs, ``core-api/core-api.json``,
commit f8f5386, 2026-08-11; a copy lives outside the repository at
``../shared/contracts/front-core-api.json``) and kept here in our own words: for each operation, its
``operationId``, method, path template, the request body's fields (required or not, JSON type,
enum), the query parameters we send, the success status, and whether Front answers 301 for a
merged conversation. ``test_front_contract.py`` checks every row against the OpenAPI document
when it is present, so the table cannot drift from Front's specification unnoticed.

``service=True`` marks what ``support/`` calls (``support.front.FrontClient`` and ``support.doctor``);
the other rows are Front operations the fake also serves so that tests can play a teammate (edit a
draft) or a reader. ``FrontFake`` validates every request against this table (unknown operation:
404; body not as specified: 400, both recorded as contract violations) and answers with the row's
success status.

Facts the OpenAPI document does not carry, taken from Front's documentation and kept here so the
fake and the client agree on them:

* rate limits (https://dev.frontapp.com/docs/rate-limiting): every answer has
  ``x-ratelimit-limit`` / ``x-ratelimit-remaining`` / ``x-ratelimit-reset`` (UNIX time); a 429 adds
  ``retry-after`` (seconds) and, on burst-limited routes, ``x-front-tier``;
* errors have the body ``{"_error": {"status", "title", "message"}}``;
* a draft's ``version`` changes with every edit; ``DELETE /drafts/{id}`` with an older version is
  refused (the fake answers 409; Front's exact status for a stale version is not documented).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

SPEC_COMMIT = "f8f5386"


@dataclass(frozen=True)
class Field:
    """One property of a request body."""

    name: str
    type: str  # JSON type: string | boolean | array | object | integer
    required: bool = False
    nullable: bool = False  # accepted as null although the schema says ``type`` only
    enum: tuple[str, ...] = ()
    items: str | None = None  # the item type of an array

    def problem(self, body: dict[str, Any]) -> str | None:
        if self.name not in body:
            return f"missing required field {self.name}" if self.required else None
        value = body[self.name]
        if value is None:
            return None if self.nullable else f"{self.name} must not be null"
        if not _is(value, self.type):
            return f"{self.name} must be of type {self.type}"
        if self.type == "string" and self.required and not value:
            return f"{self.name} must not be empty"
        if self.enum and value not in self.enum:
            return f"{self.name} must be one of {', '.join(self.enum)}"
        if self.items and not all(_is(item, self.items) for item in value):
            return f"{self.name} must be an array of {self.items}"
        return None


def _is(value: Any, kind: str) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "array":
        return isinstance(value, list)
    if kind == "object":
        return isinstance(value, dict)
    raise ValueError(f"unknown type {kind}")


@dataclass(frozen=True)
class Body:
    """A request body: its schema's name in the OpenAPI document, and its properties."""

    schema: str
    fields: tuple[Field, ...]


@dataclass(frozen=True)
class Operation:
    operation_id: str
    route: str  # method and Front's path template: "POST /conversations/{conversation_id}/drafts"
    success: int
    body: Body | None = None
    query: tuple[str, ...] = ()
    merged_301: bool = False
    service: bool = True
    method: str = field(init=False)
    path: str = field(init=False)
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        method, path = self.route.split(" ")
        object.__setattr__(self, "method", method)
        object.__setattr__(self, "path", path)
        regex = re.sub(r"\\\{[a-z_]+\\\}", "([^/]+)", re.escape(path.rstrip("/")))
        object.__setattr__(self, "pattern", re.compile(regex + "/?"))

    @property
    def schema(self) -> str | None:
        return self.body.schema if self.body else None

    @property
    def fields(self) -> tuple[Field, ...]:
        return self.body.fields if self.body else ()

    @property
    def has_body(self) -> bool:
        return self.schema is not None

    def matches(self, method: str, path: str) -> bool:
        return method.upper() == self.method and self.pattern.fullmatch(path) is not None

    def problems(self, body: Any) -> list[str]:
        """What is wrong with a request body for this operation (empty when nothing is)."""
        if not self.has_body:
            return []
        if not isinstance(body, dict):
            required = ", ".join(f.name for f in self.fields if f.required)
            return [f"the body must be a JSON object ({self.schema}) with: {required}"]
        return [p for p in (f.problem(body) for f in self.fields) if p]

    def unknown_query(self, query: dict[str, str]) -> list[str]:
        """Query parameters this table does not list (Front ignores them; we never send them)."""
        return [name for name in query if name not in self.query]


RECIPIENTS = tuple(Field(name, "array", items="string") for name in ("to", "cc", "bcc"))

REPLY_DRAFT = Body(
    "ReplyDraft",
    (
        Field("body", "string", required=True),
        Field("channel_id", "string", required=True),
        Field("mode", "string", enum=("private", "shared")),
        Field("author_id", "string"),
        Field("subject", "string"),
        *RECIPIENTS,
    ),
)
OUTBOUND_REPLY_MESSAGE = Body(
    "OutboundReplyMessage",
    (
        Field("body", "string", required=True),
        Field("channel_id", "string"),
        Field("author_id", "string"),
        Field("subject", "string"),
        Field("text", "string"),
        *RECIPIENTS,
        Field("options", "object"),
    ),
)
DELETE_DRAFT = Body("DeleteDraft", (Field("version", "string", required=True),))
CREATE_COMMENT = Body(
    "CreateComment",
    (
        Field("body", "string", required=True),
        Field("author_id", "string"),
        Field("is_pinned", "boolean"),
    ),
)
# the spec types it string; its description says "Set it to null to unassign"
UPDATE_CONVERSATION_ASSIGNEE = Body(
    "UpdateConversationAssignee",
    (Field("assignee_id", "string", required=True, nullable=True),),
)
EDIT_DRAFT = Body(
    "EditDraft",
    (
        Field("body", "string", required=True),
        Field("channel_id", "string", required=True),
        Field("version", "string"),
        Field("mode", "string", enum=("shared",)),
    ),
)
OUTBOUND_MESSAGE = Body(
    "OutboundMessage",
    (
        Field("to", "array", required=True, items="string"),
        Field("body", "string", required=True),
        Field("subject", "string"),
        Field("author_id", "string"),
    ),
)

OPERATIONS: tuple[Operation, ...] = (
    Operation("get-message", "GET /messages/{message_id}", 200),
    Operation(
        "list-conversation-messages",
        "GET /conversations/{conversation_id}/messages",
        200,
        query=("limit", "page_token"),
        merged_301=True,
    ),
    Operation(
        "list-conversation-inboxes",
        "GET /conversations/{conversation_id}/inboxes",
        200,
        merged_301=True,
    ),
    Operation("list-inbox-channels", "GET /inboxes/{inbox_id}/channels", 200),
    Operation(
        "list-conversation-drafts",
        "GET /conversations/{conversation_id}/drafts",
        200,
        merged_301=True,
    ),
    Operation(
        "create-draft-reply",
        "POST /conversations/{conversation_id}/drafts",
        200,
        REPLY_DRAFT,
        merged_301=True,
    ),
    Operation(
        "create-message-reply",
        "POST /conversations/{conversation_id}/messages",
        202,
        OUTBOUND_REPLY_MESSAGE,
        merged_301=True,
    ),
    Operation("delete-draft", "DELETE /drafts/{draft_id}", 204, DELETE_DRAFT),
    Operation(
        "add-comment",
        "POST /conversations/{conversation_id}/comments",
        201,
        CREATE_COMMENT,
        merged_301=True,
    ),
    Operation(
        "update-conversation-assignee",
        "PUT /conversations/{conversation_id}/assignee",
        204,
        UPDATE_CONVERSATION_ASSIGNEE,
        merged_301=True,
    ),
    Operation("api-token-details", "GET /me", 200),  # support.doctor
    # served by the fake for tests only (not called by the service)
    Operation("edit-draft", "PATCH /drafts/{message_id}/", 200, EDIT_DRAFT, service=False),
    Operation(
        "create-message",
        "POST /channels/{channel_id}/messages",
        202,
        OUTBOUND_MESSAGE,
        service=False,
    ),
    Operation(
        "get-conversation-by-id",
        "GET /conversations/{conversation_id}",
        200,
        merged_301=True,
        service=False,
    ),
)


def find(method: str, path: str) -> Operation | None:
    """The table row for a request (``path`` without the query string)."""
    return next((op for op in OPERATIONS if op.matches(method, path)), None)


def path_known(path: str) -> bool:
    """Whether some operation of the table has this path (with another method)."""
    return any(op.pattern.fullmatch(path) for op in OPERATIONS)
