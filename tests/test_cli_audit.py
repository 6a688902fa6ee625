"""``flask --app app audit --action act_...``: an action's audit trail, oldest first."""

from __future__ import annotations

import uuid

from flask.testing import FlaskCliRunner

from support import audit


def test_audit_prints_the_trail_of_one_action(runner: FlaskCliRunner) -> None:
    action_id = f"act_{uuid.uuid4().hex}"
    other = f"act_{uuid.uuid4().hex}"
    conversation = f"cnv_{uuid.uuid4().hex[:12]}"
    audit.append(
        "action.proposed", actor="agent", action_id=action_id, conversation_id=conversation
    )
    audit.append("approval.posted", actor="system", action_id=action_id, detail={"ts": "1.2"})
    audit.append("approval.approved", actor="U0APPROVER1", action_id=action_id)
    audit.append("action.proposed", actor="agent", action_id=other, conversation_id=conversation)

    result = runner.invoke(args=["audit", "--action", action_id])
    assert result.exit_code == 0, result.output
    rows = result.output.splitlines()
    assert [r.split()[2] for r in rows] == [
        "action.proposed",
        "approval.posted",
        "approval.approved",
    ]
    assert "U0APPROVER1" in rows[2] and '{"ts": "1.2"}' in rows[1] and conversation in rows[0]
    assert other not in result.output

    by_conversation = runner.invoke(args=["audit", "--conversation", conversation, "--limit", "1"])
    assert by_conversation.output.count("\n") == 1 and other in by_conversation.output

    assert "no audit rows match" in runner.invoke(args=["audit", "--action", "act_none"]).output
    assert runner.invoke(args=["audit"]).exit_code != 0
