"""``make demo`` must keep working: run it as a newcomer would and read what it prints."""

from __future__ import annotations

import subprocess
import sys

from tests.world import ROOT


def test_make_demo_runs_the_approval_loop_and_says_so() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "scripts.demo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    for line in (
        "Message in from jane@example.com",
        "POST /webhooks/front -> 200",
        "Claude calls process_refund(",
        "Proposal act_",
        "[Approve] [Reject] [Edit] [Open in Front]",
        "clicks [Approve]",
        "POST /slack/events -> 200",
        "Product app refunded re_",
        "Executed successfully. Refund id `re_",
        "Draft msg_draft_1 created on cnv_demo",
        "approval.approved    U0APPROVER1",
        "DEMO OK: the refund was executed exactly once and the reply was drafted in Front.",
    ):
        assert line in out, f"{line!r} missing from the demo's output:\n{out}"
    assert out.count("Product app refunded") == 1
