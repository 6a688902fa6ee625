"""Block Kit for approvals: pure functions from plain data to Block Kit.

Nothing here touches the database or the network. Callers turn their records into a
``RequestView`` (``RequestView.from_dict`` accepts any mapping with these field names) and post
what these functions return (``RequestView`` lives in ``slack/request_view.py``; it is re-exported
here). The request message (``request_blocks``, redrawn on every click) is built as plain dicts,
the JSON Slack receives; modals and App Home are slack_sdk ``View`` objects, validated by their
``to_dict()``. Free text is trimmed to Slack's limits with ``trim``; ``tests/test_slack_blocks.py``
round-trips every message through slack_sdk's block models, so a block over a limit fails in
tests, not in Slack.

Action ids (what the listeners match): ``approve_action`` (primary; a confirm dialog for refunds),
``reject_action`` (danger, opens the reason modal), ``edit_action`` (opens the edit modal) and
``open_in_front`` (a link button; Slack still sends a click, which is acknowledged and ignored).
Button values carry the action id as a *hint*: listeners look the action up on the server.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    HeaderBlock,
    InputBlock,
    PlainTextInputElement,
)
from slack_sdk.models.views import View

from slack import mrkdwn
from slack.request_view import (
    RequestView as RequestView,  # re-exported: callers use blocks.RequestView
)
from slack.request_view import is_refund

APPROVE = "approve_action"
REJECT = "reject_action"
EDIT = "edit_action"
OPEN_IN_FRONT = "open_in_front"
ACTIONS_BLOCK = "approval_actions"

REJECT_CALLBACK = "reject_reason"
REASON_BLOCK = "reason"
REASON_INPUT = "reason_input"

EDIT_CALLBACK = "edit_action_submit"
DRAFT_BLOCK = "draft"
DRAFT_INPUT = "draft_input"
AMOUNT_BLOCK = "amount"
AMOUNT_INPUT = "amount_input"

SECTION_TEXT_LIMIT = 3000
HEADER_LIMIT = 150
CONTEXT_TEXT_LIMIT = 2000
INPUT_LIMIT = 3000


def trim(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)].rstrip() + "…"


def slack_date(moment: dt.datetime) -> str:
    """A Slack date token (shown in each reader's time zone) with a UTC fallback."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    fallback = aware.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(aware.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"


def mention(user_id: str | None) -> str:
    if not user_id:
        return "someone"
    if user_id.startswith(("U", "W")):
        return f"<@{user_id}>"
    return user_id


JSON = dict[str, Any]
"""A Block Kit element as the JSON Slack receives."""


def _plain(text: str) -> JSON:
    return {"type": "plain_text", "text": text, "emoji": True}


def _mrkdwn(text: str) -> JSON:
    return {"type": "mrkdwn", "text": text}


def _section(text: str) -> JSON:
    return {"type": "section", "text": _mrkdwn(trim(text, SECTION_TEXT_LIMIT))}


def _context(text: str) -> JSON:
    return {"type": "context", "elements": [_mrkdwn(trim(text, CONTEXT_TEXT_LIMIT))]}


def _button(text: str, **fields: Any) -> JSON:
    """A button; ``fields`` (action_id, value, style, url, confirm) are left out when None.
    Callers name ``action_id=`` with a constant: tests/test_manifest.py reads them statically."""
    button: JSON = {"type": "button", "text": _plain(text)}
    button.update((k, v) for k, v in fields.items() if v is not None)
    return button


def _front_button(view: RequestView) -> JSON:
    return _button("Open in Front", action_id=OPEN_IN_FRONT, url=view.front_url)


def _code(value: Mapping[str, Any]) -> str:
    body = json.dumps(dict(value), indent=2, sort_keys=True, default=str)
    return "```" + trim(body, SECTION_TEXT_LIMIT - 40) + "```"


def _quote(text: str, limit: int) -> str:
    return "\n".join("> " + line for line in trim(text, limit).splitlines() or [""])


def _purchase_text(purchase: Mapping[str, Any]) -> str:
    """The purchase as the app's integration returned it when the agent proposed the action
    (not as the model described it)."""
    amount, currency = purchase.get("amount"), str(purchase.get("currency") or "").upper()
    paid = (
        f"{amount / 100:.2f} {currency}".strip()
        if isinstance(amount, int) and not isinstance(amount, bool)
        else "amount unknown"
    )
    date = str(purchase.get("purchased_at") or "date unknown")[:10]
    product = str(purchase.get("product") or "unknown product")
    status = str(purchase.get("status") or "status unknown")
    return (
        f"*Purchase (as the app reports it):* {product} · {date} · {paid} · "
        f"`{purchase.get('id')}` · {status}"
    )


def _summary_blocks(view: RequestView) -> list[JSON]:
    who = view.customer_email or "unknown customer"
    app = view.app_name or "unknown app"
    header = trim(f"{view.type_label} for {who}", HEADER_LIMIT)
    blocks: list[JSON] = [
        {"type": "header", "text": {"type": "plain_text", "text": header}},
        _context(f"*App:* {app}  ·  *Customer:* {who}  ·  *Action:* `{view.action_id}`"),
    ]
    if view.context_degraded:
        blocks.append(
            _section(
                ":warning: *Context degraded:* Front or the app's API could not be reached; the "
                "agent worked from the webhook alone. Check the conversation before approving."
            )
        )
    if view.reasoning:
        blocks.append(_section("*Why:*\n" + _quote(view.reasoning, SECTION_TEXT_LIMIT - 20)))
    purchase = view.parameters.get("purchase")
    if isinstance(purchase, Mapping):
        blocks.append(_section(_purchase_text(purchase)))
    parameters = {k: v for k, v in view.parameters.items() if k != "purchase"}
    if parameters:
        blocks.append(_section("*Parameters:*\n" + _code(parameters)))
    if view.draft_body:  # Markdown: shown as Slack mrkdwn, cut at a block boundary to fit
        blocks.append(
            _section("*Draft reply:*\n" + mrkdwn.preview(view.draft_body, SECTION_TEXT_LIMIT - 20))
        )
    return blocks


def _buttons(view: RequestView, block_id: str = ACTIONS_BLOCK) -> JSON:
    confirm = None
    if is_refund(view.action_type):
        amount = view.parameters.get("amount")
        what = f"a refund of {amount}" if amount is not None else "this refund"
        confirm = {
            "title": _plain("Approve the refund?"),
            "text": _mrkdwn(
                trim(f"This issues {what} to {view.customer_email or 'the customer'}.", 300)
            ),
            "confirm": _plain("Approve"),
            "deny": _plain("Cancel"),
        }
    return {
        "type": "actions",
        "block_id": block_id,
        "elements": [
            _button(
                "Approve", action_id=APPROVE, value=view.action_id, style="primary", confirm=confirm
            ),
            _button("Reject", action_id=REJECT, value=view.action_id, style="danger"),
            _button("Edit", action_id=EDIT, value=view.action_id),
            _front_button(view),
        ],
    }


def status_line(view: RequestView) -> str:
    """One line saying where the request stands (used in the message and its fallback text)."""
    when = f" at {slack_date(view.decided_at)}" if view.decided_at else ""
    if view.status == "approved":
        line = f":white_check_mark: Approved by {mention(view.decided_by)}{when}"
        if view.edits:
            changed = [f"{k} → {v}" for k, v in dict(view.edits.get("parameters") or {}).items()]
            if view.edits.get("draftBody"):
                changed.append("draft reply")
            line += f" with edits ({', '.join(changed)})" if changed else " with edits"
        outcome = _outcome_line(view)
        return line + (f"\n{outcome}" if outcome else "")
    if view.status == "rejected":
        line = f":x: Rejected by {mention(view.decided_by)}{when}"
        if view.reason:
            line += f"\n*Reason:* {trim(view.reason, 1500)}"
        return line
    if view.status == "expired":
        return ":hourglass: Expired, no action taken."
    expires = f" Expires {slack_date(view.expires_at)}." if view.expires_at else ""
    return f":hourglass_flowing_sand: Waiting for approval.{expires}"


def _outcome_line(view: RequestView) -> str:
    if view.action_status == "succeeded":
        detail = _result_text(view.result)
        return ":tada: Executed successfully." + (f" {detail}" if detail else "")
    if view.action_status == "failed":
        return f":rotating_light: *Execution failed:* {trim(view.error or 'unknown error', 1500)}"
    if view.action_status == "executing":
        return ":gear: Executing…"
    if view.status == "approved":
        return ":gear: Execution pending…"
    return ""


def _result_text(result: Mapping[str, Any] | None) -> str:
    if not result:
        return ""
    for key in ("refundId", "refund_id", "id"):
        if result.get(key):
            return (
                f"Refund id `{result[key]}`." if "refund" in key else f"Result id `{result[key]}`."
            )
    return "Result: `" + trim(json.dumps(dict(result), default=str, sort_keys=True), 500) + "`"


def request_blocks(view: RequestView) -> list[JSON]:
    """The channel message: a pending request carries buttons; any other state carries none."""
    blocks = _summary_blocks(view)
    blocks.append({"type": "divider"})
    if view.status == "pending":
        blocks.append(_buttons(view))
        blocks.append(_context(status_line(view)))
    else:
        blocks.append(_section(status_line(view)))
        blocks.append({"type": "actions", "block_id": "links", "elements": [_front_button(view)]})
    return blocks


def fallback_text(view: RequestView) -> str:
    """The ``text`` of the message (notifications, screen readers)."""
    head = f"{view.type_label} for {view.customer_email or 'unknown customer'}"
    return trim(f"{head}: {status_line(view)}", 3000)


def reminder_text(view: RequestView, approvers: Sequence[str], expires_at: dt.datetime) -> str:
    who = " ".join(mention(a) for a in approvers) or "Approvers"
    return (
        f"{who}: this {view.type_label.lower()} still needs a decision; it expires "
        f"{slack_date(expires_at)} and then nothing happens."
    )


def _modal(view: RequestView, **fields: Any) -> View:
    """A modal about ``view``'s action (``private_metadata``: its id, a hint only); ``fields``:
    callback_id (a constant, named: tests/test_manifest.py reads it), title, submit, blocks."""
    return View(type="modal", private_metadata=view.action_id, close="Cancel", **fields)


def reject_modal(view: RequestView) -> View:
    """Asks for the (required) reason; ``private_metadata`` = action id (a hint only)."""
    return _modal(
        view,
        callback_id=REJECT_CALLBACK,
        title="Reject action",
        submit="Reject",
        blocks=[
            _section(
                f"Reject the *{view.type_label.lower()}* for {view.customer_email or 'the customer'}? "
                "The agent revises its draft with your reason."
            ),
            InputBlock(
                block_id=REASON_BLOCK,
                label="Reason",
                element=PlainTextInputElement(
                    action_id=REASON_INPUT,
                    multiline=True,
                    max_length=INPUT_LIMIT,
                    placeholder="What should the agent do instead?",
                ),
            ),
        ],
    )


def edit_modal(view: RequestView) -> View:
    """Change the draft and, for refunds, lower the amount; submitting approves with the edits."""
    blocks: list[Block | JSON] = [
        _section(
            f"Edit, then approve, the *{view.type_label.lower()}* for "
            f"{view.customer_email or 'the customer'}."
        ),
    ]
    if is_refund(view.action_type):
        amount = view.parameters.get("amount")
        blocks.append(
            InputBlock(
                block_id=AMOUNT_BLOCK,
                label="Refund amount (cents)",
                hint="Whole cents, at most the amount the agent proposed.",
                optional=amount is None,
                element=PlainTextInputElement(
                    action_id=AMOUNT_INPUT,
                    initial_value=None if amount is None else str(amount),
                    max_length=20,
                ),
            )
        )
    blocks.append(
        InputBlock(
            block_id=DRAFT_BLOCK,
            label="Draft reply",
            optional=True,
            element=PlainTextInputElement(
                action_id=DRAFT_INPUT,
                multiline=True,
                max_length=INPUT_LIMIT,
                initial_value=trim(view.draft_body, INPUT_LIMIT) if view.draft_body else None,
            ),
        )
    )
    return _modal(
        view, callback_id=EDIT_CALLBACK, title="Edit and approve", submit="Approve", blocks=blocks
    )


MAX_HOME_REQUESTS = 20


def home_view(pending: Sequence[RequestView], now: dt.datetime, *, allowed: bool = True) -> View:
    """App Home: the viewer's pending approvals, oldest first, with working buttons."""
    blocks: list[Block | JSON] = [HeaderBlock(text=f"Pending approvals ({len(pending)})")]
    if not allowed:
        blocks.append(_section("You are not an approver: you can look, but not decide."))
    if not pending:
        blocks.append(_section("Nothing is waiting for a decision. :sparkles:"))
    for view in list(pending)[:MAX_HOME_REQUESTS]:
        age = _age(now - view.created_at) if view.created_at else "unknown age"
        text = (
            f"*{view.type_label}* for {view.customer_email or 'unknown customer'} "
            f"({view.app_name or 'unknown app'}), waiting {age}"
        )
        if view.parameters:
            text += "\n" + trim(json.dumps(dict(view.parameters), default=str, sort_keys=True), 500)
        blocks.append({"type": "divider"})
        blocks.append(_section(text))
        if allowed:
            blocks.append(_buttons(view, block_id=f"{ACTIONS_BLOCK}:{view.action_id}"))
    if len(pending) > MAX_HOME_REQUESTS:
        blocks.append(_context(f"…and {len(pending) - MAX_HOME_REQUESTS} more in the channel."))
    return View(type="home", blocks=blocks)


def _age(delta: dt.timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h {minutes % 60} min"
    return f"{hours // 24} days"
