"""The Slack Web API arguments the service's calls must satisfy, as Slack documents them.

References: https://api.slack.com/methods/<method> (arguments and errors) and
https://api.slack.com/reference/block-kit (limits). ``SlackFake`` runs ``check`` on every Web API
call and answers a refusal the way Slack does: HTTP 200, ``{"ok": false, "error": "...",
"response_metadata": {"messages": ["[ERROR] ... [json-pointer:/...]"]}}``.

What is checked, per method (``METHODS``):

* required arguments (``channel``, ``ts``, ``user``, ``user_id``, ``trigger_id``, ``view``...), with
  Slack's error for each (``channel_not_found``, ``message_not_found``, ``invalid_arguments``...);
* messages: one of ``text`` / ``blocks`` / ``attachments`` (``no_text``); at most 50 blocks; a
  ``text`` over 40,000 characters is ``msg_too_long``; ``metadata`` must be
  ``{"event_type": str, "event_payload": object}`` (``invalid_metadata_format``);
* views: ``type`` ``modal`` (views.open / views.update) or ``home`` (views.publish); a modal needs a
  ``title`` (plain_text, <= 24 characters), and a ``submit`` when it has input blocks; ``close`` /
  ``submit`` <= 24; at most 100 blocks; ``private_metadata`` <= 3000; ``callback_id`` <= 255;
* ``views.open``: a ``trigger_id`` is valid for 3 seconds. Trigger ids minted by
  ``SlackFake.trigger_id()`` carry their issue time and are refused (``expired_trigger_id``) after
  3 s; a malformed one is ``invalid_trigger_id``; others (recorded sample ids) are accepted;
* every block: a known type, ``block_id`` <= 255 and unique; ``section`` text <= 3000 and fields
  <= 10 of <= 2000; ``header`` plain_text <= 150; ``context`` <= 10 elements; ``actions`` <= 25
  elements; ``input`` label <= 2000; a button's text plain_text <= 75, ``value`` <= 2000, ``url``
  <= 3000, ``action_id`` <= 255, ``style`` ``primary`` / ``danger``; a text object is ``plain_text``
  or ``mrkdwn`` and not empty; ``plain_text_input`` ``initial_value`` / ``max_length`` <= 3000.
  Failures are ``invalid_blocks`` for messages and ``invalid_arguments`` for views.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

TRIGGER_TTL = 3.0
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_TEXT = 40_000
_TRIGGER = re.compile(r"^\d+\.\d+\.[0-9a-zA-Z]+$")


@dataclass(frozen=True)
class Method:
    name: str
    required: tuple[tuple[str, str], ...] = ()  # (argument, Slack's error when it is missing)
    message: bool = False  # takes text / blocks / attachments
    view: str | None = None  # "modal" | "home": takes a view of that type


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("auth.test"),
        Method("chat.postMessage", (("channel", "channel_not_found"),), message=True),
        Method(
            "chat.update",
            (("channel", "channel_not_found"), ("ts", "message_not_found")),
            message=True,
        ),
        Method(
            "chat.postEphemeral",
            (("channel", "channel_not_found"), ("user", "user_not_in_channel")),
            message=True,
        ),
        Method(
            "chat.getPermalink",
            (("channel", "channel_not_found"), ("message_ts", "message_not_found")),
        ),
        Method("conversations.history", (("channel", "channel_not_found"),)),
        Method("users.info", (("user", "user_not_found"),)),
        Method("views.open", (("view", "invalid_arguments"),), view="modal"),
        Method("views.update", (("view", "invalid_arguments"),), view="modal"),
        Method(
            "views.publish",
            (("user_id", "invalid_arguments"), ("view", "invalid_arguments")),
            view="home",
        ),
    )
}


def mint_trigger_id(issued_at: float | None = None) -> str:
    """A trigger id in Slack's shape that records when it was issued (milliseconds)."""
    issued = time.time() if issued_at is None else issued_at
    return f"{int(issued * 1000)}.4242.{int(issued * 1e6) % 0xFFFFFF:06x}"


def refusal(error: str, *messages: str) -> dict[str, Any]:
    body: dict[str, Any] = {"ok": False, "error": error}
    if messages:
        body["response_metadata"] = {"messages": [f"[ERROR] {m}" for m in messages]}
    return body


def check(
    method: str, args: dict[str, Any], *, minted: set[str], now: float | None = None
) -> dict[str, Any] | None:
    """Slack's answer refusing this call, or ``None`` when Slack would accept its arguments."""
    spec = METHODS.get(method)
    if spec is None:
        return None  # the fake answers unknown_method itself
    for name, error in spec.required:
        if args.get(name) in (None, ""):
            return refusal(error, f"missing required field: {name}")
    if spec.message:
        return _message(args)
    if spec.view:
        return _view_call(method, spec.view, args, minted, time.time() if now is None else now)
    return None


def _message(args: dict[str, Any]) -> dict[str, Any] | None:
    text, blocks = args.get("text"), args.get("blocks")
    if not (text or blocks or args.get("attachments")):
        return refusal("no_text")
    if isinstance(text, str) and len(text) > MAX_TEXT:
        return refusal("msg_too_long")
    if blocks is not None:
        if not isinstance(blocks, list):
            return refusal("invalid_blocks_format")
        problems = block_problems(blocks, "/blocks", MAX_MESSAGE_BLOCKS)
        if problems:
            return refusal("invalid_blocks", *problems)
    metadata = args.get("metadata")
    if metadata is not None and not (
        isinstance(metadata, dict)
        and isinstance(metadata.get("event_type"), str)
        and metadata["event_type"]
        and isinstance(metadata.get("event_payload"), dict)
    ):
        return refusal("invalid_metadata_format")
    return None


def _view_call(
    method: str, kind: str, args: dict[str, Any], minted: set[str], now: float
) -> dict[str, Any] | None:
    if method == "views.open":
        trigger = args.get("trigger_id") or args.get("interactivity_pointer")
        if not trigger:
            return refusal("invalid_arguments", "missing required field: trigger_id")
        if not _TRIGGER.match(str(trigger)):
            return refusal("invalid_trigger_id")
        if trigger in minted and now - int(str(trigger).split(".")[0]) / 1000 > TRIGGER_TTL:
            return refusal("expired_trigger_id")
    if method == "views.update" and not (args.get("view_id") or args.get("external_id")):
        return refusal("invalid_arguments", "view_id or external_id is required")
    view = args.get("view")
    if not isinstance(view, dict):
        return refusal("invalid_arguments", "view must be an object [json-pointer:/view]")
    problems = view_problems(view, kind)
    return refusal("invalid_arguments", *problems) if problems else None


def view_problems(view: dict[str, Any], kind: str) -> list[str]:
    out: list[str] = []
    if view.get("type") != kind:
        out.append(f"must be {kind} [json-pointer:/view/type]")
    if kind == "modal":
        title = view.get("title")
        out += _text(title, "/view/title", 24, plain=True, required=True)
        for key in ("submit", "close"):
            if view.get(key) is not None:
                out += _text(view[key], f"/view/{key}", 24, plain=True, required=True)
        has_input = any(
            b.get("type") == "input" for b in view.get("blocks") or [] if isinstance(b, dict)
        )
        if has_input and view.get("submit") is None:
            out.append(
                "submit is required when a view has input blocks [json-pointer:/view/submit]"
            )
    if len(str(view.get("private_metadata") or "")) > 3000:
        out.append("must be less than 3001 characters [json-pointer:/view/private_metadata]")
    if len(str(view.get("callback_id") or "")) > 255:
        out.append("must be less than 256 characters [json-pointer:/view/callback_id]")
    blocks = view.get("blocks")
    if not isinstance(blocks, list):
        out.append("must be an array [json-pointer:/view/blocks]")
    else:
        out += block_problems(blocks, "/view/blocks", MAX_VIEW_BLOCKS)
    return out


# -- Block Kit ---------------------------------------------------------------------------------

BLOCK_TYPES = frozenset(
    {
        "section",
        "header",
        "context",
        "actions",
        "divider",
        "input",
        "image",
        "rich_text",
        "markdown",
        "file",
        "video",
    }
)


def block_problems(blocks: list[Any], pointer: str, limit: int) -> list[str]:
    out: list[str] = []
    if len(blocks) > limit:
        out.append(f"no more than {limit} items allowed [json-pointer:{pointer}]")
    seen: set[str] = set()
    for i, block in enumerate(blocks):
        at = f"{pointer}/{i}"
        if not isinstance(block, dict) or block.get("type") not in BLOCK_TYPES:
            out.append(f"unsupported type [json-pointer:{at}/type]")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if not isinstance(block_id, str) or not 0 < len(block_id) <= 255:
                out.append(f"must be 1 to 255 characters [json-pointer:{at}/block_id]")
            elif block_id in seen:
                out.append(f"duplicate block_id [json-pointer:{at}/block_id]")
            seen.add(str(block_id))
        out += _block(block, at)
    return out


def _elements(block: dict[str, Any], at: str, most: int) -> tuple[list[Any], list[str]]:
    """A block's ``elements`` and the problem of their count (1 to ``most``)."""
    elements = block.get("elements") or []
    if 0 < len(elements) <= most:
        return elements, []
    return elements, [f"must have 1 to {most} items [json-pointer:{at}/elements]"]


def _block(block: dict[str, Any], at: str) -> list[str]:
    kind = block["type"]
    if kind == "section":
        out = []
        if block.get("text") is None and not block.get("fields"):
            out.append(f"text or fields is required [json-pointer:{at}]")
        if block.get("text") is not None:
            out += _text(block["text"], f"{at}/text", 3000, required=True)
        fields = block.get("fields") or []
        if len(fields) > 10:
            out.append(f"no more than 10 items allowed [json-pointer:{at}/fields]")
        for j, item in enumerate(fields):
            out += _text(item, f"{at}/fields/{j}", 2000, required=True)
        if block.get("accessory") is not None:
            out += _element(block["accessory"], f"{at}/accessory")
        return out
    if kind == "header":
        return _text(block.get("text"), f"{at}/text", 150, plain=True, required=True)
    if kind == "context":
        elements, out = _elements(block, at, 10)
        for j, item in enumerate(elements):
            if isinstance(item, dict) and item.get("type") in ("plain_text", "mrkdwn"):
                out += _text(item, f"{at}/elements/{j}", 3000, required=True)
        return out
    if kind == "actions":
        elements, out = _elements(block, at, 25)
        for j, item in enumerate(elements):
            out += _element(item, f"{at}/elements/{j}")
        return out
    if kind == "input":
        out = _text(block.get("label"), f"{at}/label", 2000, plain=True, required=True)
        if not isinstance(block.get("element"), dict):
            return [*out, f"element is required [json-pointer:{at}/element]"]
        return out + _element(block["element"], f"{at}/element")
    return []


def _element(element: Any, at: str) -> list[str]:
    if not isinstance(element, dict):
        return [f"must be an object [json-pointer:{at}]"]
    out: list[str] = []
    if len(str(element.get("action_id") or "")) > 255:
        out.append(f"must be less than 256 characters [json-pointer:{at}/action_id]")
    kind = element.get("type")
    if kind == "button":
        out += _text(element.get("text"), f"{at}/text", 75, plain=True, required=True)
        if len(str(element.get("value") or "")) > 2000:
            out.append(f"must be less than 2001 characters [json-pointer:{at}/value]")
        if len(str(element.get("url") or "")) > 3000:
            out.append(f"must be less than 3001 characters [json-pointer:{at}/url]")
        if element.get("style") not in (None, "primary", "danger"):
            out.append(f"must be primary or danger [json-pointer:{at}/style]")
    elif kind == "plain_text_input":
        if len(str(element.get("initial_value") or "")) > 3000:
            out.append(f"must be less than 3001 characters [json-pointer:{at}/initial_value]")
        if int(element.get("max_length") or 0) > 3000:
            out.append(f"must be at most 3000 [json-pointer:{at}/max_length]")
    return out


def _text(
    obj: Any, at: str, limit: int, *, plain: bool = False, required: bool = False
) -> list[str]:
    if obj is None:
        return [f"is required [json-pointer:{at}]"] if required else []
    if not isinstance(obj, dict) or obj.get("type") not in ("plain_text", "mrkdwn"):
        return [f"must be a text object [json-pointer:{at}]"]
    if plain and obj["type"] != "plain_text":
        return [f"must be plain_text [json-pointer:{at}/type]"]
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        return [f"must be at least 1 character [json-pointer:{at}/text]"]
    if len(text) > limit:
        return [f"must be less than {limit + 1} characters [json-pointer:{at}/text]"]
    return []
