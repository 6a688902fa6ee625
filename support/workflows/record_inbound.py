"""A minimal function on ``front/inbound_received`` that records it received the event.

It proves the Front door -> Inngest -> function loop; the full agent workflow lives in
``handle_inbound_message``.
"""

from __future__ import annotations

from typing import Any

import inngest

from support import audit
from support.events import InboundReceived
from support.inngest_client import definitions


@definitions.create_function(
    fn_id="record-inbound",
    trigger=inngest.TriggerEvent(event=InboundReceived.NAME),
)
def record_inbound(ctx: inngest.ContextSync) -> dict[str, Any]:
    event = InboundReceived.parse(ctx.event.data)

    def record() -> int:
        return audit.append(
            "inbound.received",
            actor="front",
            conversation_id=event.conversation_id,
            detail={"frontEventId": event.front_event_id, "messageId": event.message_id},
        )

    audit_id = ctx.step.run("record-receipt", record)
    return {"conversationId": event.conversation_id, "auditId": audit_id}
