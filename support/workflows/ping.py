"""``ping``: a one-step function that proves the Inngest loop works end to end.

``flask --app app inngest ping`` sends ``support/ping``; the run appends an ``inngest.ping`` row to
the audit log, so an operator sees the event API, the server's call back to ``/api/inngest`` and the
database all working. The benchmarks use it as their "one step call".
"""

from __future__ import annotations

from typing import Any

import inngest

from support import audit
from support.events import Ping
from support.workflows.failures import event_function


@event_function(Ping, fn_id="ping")
def ping(ctx: inngest.ContextSync) -> dict[str, Any]:
    request = Ping.parse(ctx.event.data)

    def record_ping() -> int:
        return audit.append(
            "inngest.ping", actor=request.requested_by, detail={"runId": ctx.run_id}
        )

    audit_id = ctx.step.run("record-ping", record_ping)
    return {"pong": True, "auditId": audit_id}
