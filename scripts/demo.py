"""``make demo``: the whole approval loop, offline, printed as a timeline.

The service runs as in production (``gunicorn app:app`` with ``gunicorn.conf.py``, migrated and
configured through its CLI) on a throw-away SQLite database. Everything it talks to stands in on
127.0.0.1, in this process: the Inngest protocol double (runs the functions by calling
``/api/inngest``), and loopback fakes of Slack, Front, the product app's integration API and Claude
(whose answers are scripted here: no network, no API key).

The story: a customer writes that she was charged twice; the agent looks her up, proposes a refund
and drafts a reply; the request appears in Slack with buttons; an approver clicks Approve; the refund
is executed once; the Slack message shows the outcome; the reply lands as a Front draft.

Exit status 0 only when the refund was executed exactly once and the draft was created.
"""

from __future__ import annotations

import html
import json
import re
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from tests.world import (
    APPROVERS,
    CUSTOMER,
    World,
    eventually,
    open_world,
    render_blocks,
    run_cli,
)

WIDTH = 96
_t0 = time.monotonic()


def say(who: str, text: str) -> None:
    stamp = f"[{time.monotonic() - _t0:6.2f}s]"
    lines = text.splitlines() or [""]
    print(f"{stamp} {who:<8} {lines[0]}")
    for line in lines[1:]:
        print(f"{'':10} {'':<8} {line}")
    sys.stdout.flush()


def box(title: str, lines: list[str]) -> None:
    inner = WIDTH - 24
    print(f"{'':19}┌─ {title} " + "─" * max(0, inner - len(title) - 3) + "┐")
    for line in lines:
        for part in textwrap.wrap(line, inner - 2) or [""]:
            print(f"{'':19}│ {part:<{inner - 2}} │")
    print(f"{'':19}└" + "─" * inner + "┘")
    sys.stdout.flush()


def html_text(body: str) -> list[str]:
    text = re.sub(r"</p>\s*", "\n", body)
    text = re.sub(r"<br\s*/?>", "\n", text)
    text = re.sub(r"</?(strong|b)>", "**", text)
    return [html.unescape(line) for line in re.sub(r"<[^>]+>", "", text).strip().splitlines()]


def compact(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def agent_steps(world: World) -> None:
    """What Claude did, read back from the requests the model fake received."""
    last = world.anthropic.last_request
    for message in last["messages"]:
        if message["role"] != "assistant" or not isinstance(message["content"], list):
            continue
        for block in message["content"]:
            if block.get("type") == "tool_use":
                say("agent", f"Claude calls {block['name']}({compact(block['input'])})")
            elif block.get("type") == "text" and block.get("text"):
                say("agent", f"Claude says: {compact(block['text'], 120)}")
    final = world.anthropic.requests[-1]
    say(
        "agent",
        f"{len(world.anthropic.bodies)} model calls (stop: end_turn), last answered {final.status}",
    )


def story(world: World) -> list[str]:
    """Run the loop; returns the problems found (empty = success)."""
    problems: list[str] = []
    user = world.integration.add_user(CUSTOMER, {"name": "Jane Doe"})
    purchase = world.integration.add_purchase(user["id"], {"product": "Pro plan", "amount": 4900})
    say(
        "setup",
        f"Product app knows {CUSTOMER} ({user['id']}) with purchase {purchase['id']}: "
        f"{purchase['product']}, 49.00 USD",
    )
    world.script_refund(
        str(purchase["id"]),
        draft="Hi Jane,\n\nSorry about the double charge! We have refunded the second payment of "
        "**49.00 USD**; it shows on your statement within 5-10 days.\n\nThe Acme Courses team",
    )

    text = "Hi, I was charged twice for the Pro plan this month. Could you refund one of them?"
    say("front", f"Message in from {CUSTOMER} on conversation cnv_demo:")
    box("email", ["Subject: Charged twice", "", text])
    response = world.deliver("evt_demo_1", "cnv_demo", "msg_demo_1", text, subject="Charged twice")
    say("webhook", f"POST /webhooks/front -> {response.status_code} {response.json()}")
    world.settle()

    agent_steps(world)
    requested = world.inngest.events_named("support/approval.requested")
    if len(requested) != 1:
        return [f"expected one approval request, got {len(requested)}"]
    data = requested[0]["data"]
    action_id = str(data["actionId"])
    say(
        "agent",
        f"Proposal {action_id}: {data['action']['type']} {compact(data['action']['parameters'])}",
    )
    say("agent", f"Reasoning: {data['agentReasoning']}")

    if len(world.slack.posted) != 1:
        return [f"expected one Slack message, got {len(world.slack.posted)}"]
    posted = world.slack.posted[0]
    say("slack", f"chat.postMessage to {posted['channel']} (what the approvers see):")
    box("Slack #approvals", render_blocks(posted["blocks"]))

    say("slack", f"{APPROVERS[0]} clicks [Approve]")
    click = world.click(action_id)
    say("slack", f"POST /slack/events -> {click.status_code} (acknowledged)")
    eventually(lambda: world.decided_events(action_id), what="the decision event")
    say("inngest", "support/approval.decided received; the waiting run resumes")
    world.settle()

    for refund in world.integration.refunds:
        say(
            "execute",
            f"Product app refunded {refund['refund_id']}: {refund['amount'] / 100:.2f} "
            f"{refund['currency'].upper()} (idempotency key {refund['idempotency_key']})",
        )
    for event in world.inngest.events_named("stripe/refund.completed"):
        say("inngest", f"stripe/refund.completed {compact(event['data'], 100)}")

    final = world.slack_message(action_id)
    say("slack", "chat.update: the message now reads")
    box("Slack #approvals", render_blocks(final["blocks"]))

    for draft in world.front.drafts:
        say(
            "front",
            f"Draft {draft['draft']['id']} created on {draft['conversation_id']} "
            f"(channel {draft['channel_id']}):",
        )
        box("Front draft", html_text(draft["request"]["body"]))

    audit = run_cli(world, "audit", "--action", action_id)
    say("audit", f"flask --app app audit --action {action_id}")
    for line in audit.stdout.strip().splitlines():
        print(f"{'':19}{line[: WIDTH + 40]}")

    say("inngest", "Function runs:")
    for run in sorted(world.inngest.runs, key=lambda r: r.created_at):
        print(f"{'':19}{run.fn_id.removeprefix('support-agent-'):<26} {run.status}")

    refunds = [r for r in world.integration.refunds if r["idempotency_key"] == action_id]
    if len(refunds) != 1:
        problems.append(f"expected exactly one refund for {action_id}, got {len(refunds)}")
    if len(world.front.drafts) != 1:
        problems.append(f"expected one Front draft, got {len(world.front.drafts)}")
    if refunds and refunds[0]["refund_id"] not in "\n".join(render_blocks(final["blocks"])):
        problems.append("the Slack message does not show the refund id")
    failed = [r.fn_id for r in world.inngest.runs if r.status != "completed"]
    if failed:
        problems.append(f"runs not completed: {failed}")
    if world.inngest.protocol_errors:
        problems.append(f"Inngest protocol errors: {world.inngest.protocol_errors}")
    return problems


def main() -> int:
    print("support-agent demo: a refund request through the whole approval loop, offline.")
    print("Stand-ins on 127.0.0.1: Inngest (protocol double), Slack, Front, Claude (scripted), and")
    print("the product app's API. The service itself runs under gunicorn, as in production.\n")
    with tempfile.TemporaryDirectory(prefix="support-agent-demo-") as tmp:
        database = Path(tmp) / "demo.db"
        say(
            "setup",
            "Starting the stand-ins, migrating SQLite, registering the app (CLI), "
            "starting gunicorn…",
        )
        world: World | None = None
        try:
            with open_world(
                f"sqlite:///{database}", Path(tmp), server="gunicorn", LOG_LEVEL="WARNING"
            ) as world:
                say(
                    "setup",
                    f"Service ready at {world.url}; {len(world.inngest.functions)} "
                    "functions synced with Inngest",
                )
                problems = story(world)
        except Exception as exc:
            problems = [f"{type(exc).__name__}: {exc}"]
            if world is not None and world.log():
                print("\n--- service log (last lines) ---\n" + world.log()[-4000:])
    print()
    if problems:
        for problem in problems:
            print(f"DEMO FAILED: {problem}")
        return 1
    print("DEMO OK: the refund was executed exactly once and the reply was drafted in Front.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
