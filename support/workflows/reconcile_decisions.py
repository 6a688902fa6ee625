"""``reconcile-decisions``: re-announce decisions that no waiting run has taken yet.

Cron, every ``INTERVAL``. A decision lives in ``approval_requests`` first; its
``support/approval.decided`` event only wakes the run. The event can miss the run when the click
landed before the wait was registered (waits only see later events) or when sending failed after the
database committed. Such rows stay ``approved``/``rejected`` with ``resolved_at`` NULL; this function
sends their decision again so the waiting run resumes now, not at its 24 h timeout.

Event ids. The Slack listener sends the first announcement with ``ApprovalDecided.event_id()``
(``approval-decided-<action id>``), so a retried click is deduplicated. Inngest drops any event
whose id it saw in the last 24 h, so re-sending that id would be silently ignored: a re-send uses
``approval-decided-<action id>-resend-<run id>``. The run id is fixed for one cron run (a retried
step re-sends the same id: deduplicated), and differs between cron runs (the next run really sends
again). Receivers must not count decision events: the run reads the database, and once it has
resolved the row the reconciler stops.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import inngest

from support import approvals
from support.events import ACTION_ID_FIELD, ApprovalDecided
from support.inngest_client import definitions
from support.results import Resend, parse_output
from support.workflows.failures import on_failure

FN_ID = "reconcile-decisions"
CRON = "*/5 * * * *"
MIN_AGE = dt.timedelta(minutes=1)
"""A fresh decision's own event is still on its way: leave it alone for this long."""


def resend_id(action_id: str, run_id: str) -> str:
    return f"{ApprovalDecided.event_id(action_id)}-resend-{run_id}"


def decision_event(record: approvals.ApprovalRecord, event_id: str) -> inngest.Event:
    assert record.status in ("approved", "rejected")
    return ApprovalDecided(
        action_id=record.action_id,
        decision="approved" if record.status == "approved" else "rejected",
        decided_by=record.decided_by or "unknown",
        decided_at=approvals.iso_utc(record.decided_at),
        reason=record.reason,
        edits=record.edits,
    ).to_event(event_id=event_id)


def find_unresolved(run_id: str) -> list[dict[str, Any]]:
    """The events to re-send, as plain JSON (a step's output)."""
    events = []
    for record in approvals.unresolved_decisions(MIN_AGE):
        event = decision_event(record, resend_id(record.action_id, run_id))
        events.append(Resend(name=event.name, data=dict(event.data), id=event.id).dump())
    return events


@definitions.create_function(
    fn_id=FN_ID,
    trigger=inngest.TriggerCron(cron=CRON),
    concurrency=[inngest.Concurrency(limit=1)],
    on_failure=on_failure,
)
def reconcile_decisions(ctx: inngest.ContextSync) -> dict[str, Any]:
    raw = ctx.step.run("find-unresolved", find_unresolved, ctx.run_id)
    found = [parse_output("find-unresolved", e, Resend) for e in raw]
    action_ids = [str(e.data[ACTION_ID_FIELD]) for e in found]
    if found:
        ctx.logger.warning(
            "approval.reconcile_resend count=%d action_ids=%s", len(found), ",".join(action_ids)
        )
        ctx.step.send_event(
            "resend-decisions", [inngest.Event(name=e.name, data=e.data, id=e.id) for e in found]
        )
    return {"resent": action_ids}
