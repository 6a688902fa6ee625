"""``auto-send-draft``: send a trusted draft after 5 minutes unless the conversation moved on.

Trigger ``support/draft.auto_send`` ``{conversationId, draftKey}`` (sent by
``handle-inbound-message`` only when ``support.policy.may_auto_send`` allows it; off by default).
Cancelled by a new ``front/inbound_received`` or ``front/outbound_sent`` on the same conversation
while it sleeps. Then two steps:

* ``send-draft``: the ``drafts`` row is claimed (``created`` -> ``sending``) before the Front call
  and marked ``sent`` as soon as Front accepted the reply, so a retry after Front accepted it leaves
  it for a human instead of sending twice. When Front answered and refused (429, 4xx) nothing was
  sent: the claim is released (``created``); a 429 retries the step after Front's delay, a refusal
  ends the run with the draft left for a human. A timeout or a 5xx may have been accepted: the row
  stays ``sending`` and the run ends (a person checks the conversation).
* ``delete-draft``: the reply went out, so the draft is removed. Front's ``DELETE /drafts/{id}``
  requires the draft's current ``version``: it is read just before (``GET /messages/{id}``; an edit
  in Front changes it), and a draft already gone (404) counts as deleted. Its failures retry this
  step only: the reply is never sent again.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import inngest
from sqlalchemy import update

from support import audit, db
from support.config import current
from support.db.models import Draft, utcnow
from support.events import AutoSendRequested, InboundReceived, OutboundSent
from support.front import FrontClient
from support.front_errors import (
    FrontConfigError,
    FrontError,
    FrontNotFound,
    FrontRateLimited,
    FrontUnavailable,
)
from support.results import DraftDeletion, DraftSend, run_step
from support.workflows.failures import event_function

log = logging.getLogger(__name__)

DELAY = dt.timedelta(minutes=5)
SAME_CONVERSATION = "event.data.conversationId == async.data.conversationId"
GONE = DraftDeletion(deleted=False, reason="the draft is already gone")


def _release(draft_key: str) -> None:
    """Front refused the reply (nothing was sent): the draft is ``created`` again."""
    with db.session() as s:
        s.execute(
            update(Draft)
            .where(Draft.id == draft_key, Draft.status == "sending")
            .values(status="created", updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )


def send_draft(draft_key: str) -> dict[str, Any]:
    with db.session() as s:
        claimed = s.execute(
            update(Draft)
            .where(Draft.id == draft_key, Draft.status == "created")
            .values(status="sending", updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if getattr(claimed, "rowcount", 0) != 1:
            return DraftSend(sent=False, reason="draft is not in the created state").dump()
        draft = s.get(Draft, draft_key)
        assert draft is not None
        conversation_id, html = draft.conversation_id, draft.body_html
        channel_id, front_draft_id = draft.channel_id, draft.front_draft_id
    try:
        with FrontClient.from_config(current()) as front:
            uid = front.send_reply(conversation_id, body_html=html, channel_id=channel_id)
    except FrontRateLimited as exc:
        _release(draft_key)
        raise inngest.RetryAfterError(
            str(exc), dt.timedelta(seconds=max(exc.retry_after, 1.0))
        ) from exc
    except FrontUnavailable as exc:  # may have been accepted: never send it a second time
        raise inngest.NonRetriableError(
            f"auto-send of {draft_key} failed ({exc}); the draft is left for a human"
        ) from exc
    except FrontError as exc:  # refused: nothing was sent
        _release(draft_key)
        raise inngest.NonRetriableError(
            f"auto-send of {draft_key} failed ({exc}); the draft is left for a human"
        ) from exc
    with db.session() as s:
        row = s.get(Draft, draft_key)
        assert row is not None
        row.status, row.sent_at = "sent", utcnow()
        audit.append_in(
            s,
            "draft.auto_sent",
            actor="agent",
            conversation_id=conversation_id,
            detail={"key": draft_key, "messageUid": uid},
        )
    return DraftSend(sent=True, message_uid=uid, front_draft_id=front_draft_id).dump()


def delete_sent_draft(front_draft_id: str) -> dict[str, Any]:
    """Delete the draft whose text was just sent, with the version Front has now."""
    try:
        with FrontClient.from_config(current()) as front:
            try:
                version = front.get_draft(front_draft_id).version
            except FrontNotFound:
                return GONE.dump()
            if not version:
                raise FrontError(f"Front answered draft {front_draft_id} without a version")
            front.delete_draft(front_draft_id, version)
    except FrontConfigError as exc:
        raise inngest.NonRetriableError(str(exc)) from exc
    except FrontRateLimited as exc:
        raise inngest.RetryAfterError(
            str(exc), dt.timedelta(seconds=max(exc.retry_after, 1.0))
        ) from exc
    except FrontNotFound:
        return GONE.dump()
    log.info("auto_send.draft_deleted draft_id=%s", front_draft_id)
    return DraftDeletion(deleted=True, front_draft_id=front_draft_id).dump()


@event_function(
    AutoSendRequested,
    fn_id="auto-send-draft",
    cancel=[
        inngest.Cancel(event=InboundReceived.NAME, if_exp=SAME_CONVERSATION),
        inngest.Cancel(event=OutboundSent.NAME, if_exp=SAME_CONVERSATION),
    ],
    retries=2,
)
def auto_send_draft(ctx: inngest.ContextSync) -> dict[str, Any]:
    request = AutoSendRequested.parse(ctx.event.data)
    ctx.step.sleep("wait-for-activity", DELAY)
    sent = run_step(ctx, "send-draft", send_draft, request.draft_key, out=DraftSend)
    out = sent.dump()
    if sent.sent and sent.front_draft_id:
        deletion = run_step(
            ctx, "delete-draft", delete_sent_draft, sent.front_draft_id, out=DraftDeletion
        )
        out["draftDeletion"] = deletion.dump()
    return out
