"""``auto-send-draft``: send a trusted draft after 5 minutes unless the conversation moved on.

Trigger ``support/draft.auto_send`` ``{conversationId, draftKey}`` (sent by
``handle-inbound-message`` only when ``support.policy.may_auto_send`` allows it; off by default).
Cancelled by a new ``front/inbound_received`` or ``front/outbound_sent`` on the same conversation
while it sleeps. Sending is guarded by the ``drafts`` row: it is marked ``sending`` before the Front
call, so a retry after Front accepted the reply leaves it for a human instead of sending twice.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import inngest
from sqlalchemy import update

from support import audit, db
from support.config import current
from support.db.models import Draft, utcnow
from support.events import AutoSendRequested, InboundReceived, OutboundSent
from support.front import FrontClient, FrontError
from support.inngest_client import definitions
from support.workflows.failures import on_failure

DELAY = dt.timedelta(minutes=5)
SAME_CONVERSATION = "event.data.conversationId == async.data.conversationId"


def send_draft(draft_key: str) -> dict[str, Any]:
    with db.session() as s:
        claimed = s.execute(
            update(Draft)
            .where(Draft.id == draft_key, Draft.status == "created")
            .values(status="sending", updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if getattr(claimed, "rowcount", 0) != 1:
            return {"sent": False, "reason": "draft is not in the created state"}
        draft = s.get(Draft, draft_key)
        assert draft is not None
        conversation_id, html = draft.conversation_id, draft.body_html
        channel_id, front_draft_id = draft.channel_id, draft.front_draft_id
    try:
        with FrontClient.from_config(current()) as front:
            uid = front.send_reply(conversation_id, body_html=html, channel_id=channel_id)
            if front_draft_id:
                front.delete_draft(front_draft_id)
    except FrontError as exc:
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
    return {"sent": True, "messageUid": uid}


@definitions.create_function(
    fn_id="auto-send-draft",
    trigger=inngest.TriggerEvent(event=AutoSendRequested.NAME),
    cancel=[
        inngest.Cancel(event=InboundReceived.NAME, if_exp=SAME_CONVERSATION),
        inngest.Cancel(event=OutboundSent.NAME, if_exp=SAME_CONVERSATION),
    ],
    retries=2,
    on_failure=on_failure,
)
def auto_send_draft(ctx: inngest.ContextSync) -> dict[str, Any]:
    request = AutoSendRequested.parse(ctx.event.data)
    ctx.step.sleep("wait-for-activity", DELAY)
    return ctx.step.run("send-draft", send_draft, request.draft_key)
