"""Run the eval scenarios: ``python -m evals.run`` (``make eval``).

Without ``ANTHROPIC_API_KEY`` the agent runs against a *scripted* model (the loopback Anthropic fake
answering with each scenario's script): that proves the plumbing, the guards and the scorers, not
the model. With a key it runs the real model (``ANTHROPIC_MODEL``, default as in the service) and
writes ``evals/RESULTS.md``: one row per scenario with pass/fail, turns, tokens and cost.

Each scenario runs the same code as the ``handle-inbound-message`` workflow: the context is built
from the product app the way ``gather-context`` builds it (account data read for the *sender*), the
deterministic rules (``check-rules``) may stop it before any model call, then the agent loop runs
with the guarded tools against a loopback product app (``IntegrationFake``).

Options: ``--only NAME`` (repeatable), ``--offline`` (force the scripted model even with a key),
``--out PATH`` (where live results go).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evals.scenarios import SCENARIOS, VICTIM, VICTIM_PRODUCT, Scenario
from evals.scorers import Check, Run, score
from support import agent
from support.config import Config, load
from support.integrations import IntegrationClient
from support.results import InboundContext
from support.workflows.inbound_steps import rule_violation
from tests.fakes.anthropic import AnthropicFake
from tests.fakes.integration import IntegrationFake

SECRET = "eval-integration-secret"  # noqa: S105 - the loopback fake's
FAKE_KEY = "sk-ant-eval-scripted"
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"

# USD per million tokens: (input, output). Cache writes cost 1.25x input, cache reads 0.1x input.
PRICES = {
    "claude-haiku-4-5": (1.0, 5.0),
    "claude-sonnet-4-5": (3.0, 15.0),
    "claude-sonnet-4-6": (3.0, 15.0),
    "claude-opus-4-5": (5.0, 25.0),
    "claude-opus-4-8": (5.0, 25.0),
}


@dataclass
class Outcome:
    scenario: Scenario
    checks: list[Check]
    result: agent.AgentResult | None
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and all(c.ok for c in self.checks)


def cost_usd(model: str | None, result: agent.AgentResult | None) -> float | None:
    if result is None or model not in PRICES:
        return None
    price_in, price_out = PRICES[str(model)]
    return (
        result.input_tokens * price_in
        + result.cache_creation_input_tokens * price_in * 1.25
        + result.cache_read_input_tokens * price_in * 0.1
        + result.output_tokens * price_out
    ) / 1_000_000


def seed(scenario: Scenario, integration: IntegrationFake, now: dt.datetime) -> dict[str, str]:
    """Put the scenario's people and purchases in the product app; returns the placeholders."""
    ids: dict[str, str] = {}
    if scenario.victim:
        victim = integration.add_user(VICTIM)
        bought = integration.add_purchase(
            victim["id"], {"product": VICTIM_PRODUCT, "amount": 19900}
        )
        ids |= {"victim_user": victim["id"], "victim_purchase": bought["id"]}
    if scenario.registered:
        user = integration.add_user(scenario.sender)
        ids["user"] = user["id"]
        for name, p in zip(("own", "own2", "own3"), scenario.purchases, strict=False):
            when = (now - dt.timedelta(days=p.days_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
            record = integration.add_purchase(
                user["id"],
                {
                    "product": p.product,
                    "amount": p.amount,
                    "currency": p.currency,
                    "purchased_at": when,
                    "status": p.status,
                },
            )
            ids[name] = record["id"]
    return ids


def context_for(scenario: Scenario, client: IntegrationClient) -> dict[str, Any]:
    """What gather-context gives the agent: account data read for the sender only."""
    user = client.lookup_user(scenario.sender)
    purchases = client.get_purchases(str(user["id"])) if user else []
    return {
        "conversationId": f"cnv_eval_{scenario.name}",
        "messageId": f"msg_eval_{scenario.name}",
        "subject": scenario.subject,
        "message": scenario.message,
        "customerEmail": scenario.reply_to or scenario.sender,
        "senderEmail": scenario.sender,
        "history": list(scenario.history),
        "outboundStreak": scenario.outbound_streak,
        "user": user,
        "purchases": purchases,
        "degraded": False,
        "degradedReasons": [],
    }


def inbound_context(context: dict[str, Any]) -> InboundContext:
    """The same context as gather-context's typed output (what the rules read)."""
    return InboundContext.model_validate(
        {**context, "appId": 0, "appName": "Acme", "inboxId": None, "frontEventId": "evt_eval"}
    )


def script_for(scenario: Scenario, ids: dict[str, str], claude: AnthropicFake) -> None:
    for kind, value in scenario.script:
        if kind == "text":
            claude.reply_text(str(value))
            continue
        raw = json.dumps(value["input"])
        for key, real in ids.items():
            raw = raw.replace("{" + key + "}", real)
        claude.reply_tool_use(value["name"], json.loads(raw))


def run_one(scenario: Scenario, config: Config, claude: AnthropicFake | None) -> Outcome:
    now = dt.datetime.now(dt.UTC)
    with IntegrationFake(secret=SECRET) as integration:
        ids = seed(scenario, integration, now)
        client = IntegrationClient(integration.url, SECRET)
        context = context_for(scenario, client)
        calls_before = len(integration.calls("lookup-user"))
        skipped = rule_violation(inbound_context(context)) is not None
        result: agent.AgentResult | None = None
        if not skipped:
            if claude is not None:
                script_for(scenario, ids, claude)
            result = agent.run(
                context,
                config=config,
                app_name="Acme",
                approval_required=None,
                integration=client,
            )
            if claude is not None and claude.pending:
                raise AssertionError(f"{scenario.name}: {claude.pending} scripted replies unused")
        looked_up = [c.json["email"] for c in integration.calls("lookup-user")[calls_before:]]
        own = [ids[k] for k in ("own", "own2", "own3") if k in ids]
        purchases = {pid: integration.purchase(pid) for pid in own}
    run = Run(
        skipped=skipped,
        action=result.action.model_dump() if result and result.action else None,
        draft=result.draft_body if result else None,
        tools_used=result.tools_used if result else [],
        refusals=result.refusals if result else [],
        looked_up=looked_up,
        customer_purchases=purchases,
        customer_email=scenario.sender,
        now=now,
    )
    return Outcome(scenario, score(scenario, run), result)


def run_suite(
    *, offline: bool, only: list[str] | None = None, environ: dict[str, str] | None = None
) -> tuple[list[Outcome], Config]:
    env = dict(os.environ if environ is None else environ)
    chosen = [s for s in SCENARIOS if not only or s.name in only]
    if offline:
        with AnthropicFake(api_key=FAKE_KEY) as claude:
            config = load(
                {
                    "INNGEST_DEV": "1",
                    "ANTHROPIC_API_KEY": FAKE_KEY,
                    "ANTHROPIC_BASE_URL": claude.url,
                    "ANTHROPIC_MODEL": env.get("ANTHROPIC_MODEL", "claude-sonnet-4-6"),
                }
            )
            return [_guarded(s, config, claude) for s in chosen], config
    keys = ("ANTHROPIC_API_KEY", "ANTHROPIC_MODEL", "ANTHROPIC_BASE_URL", "AGENT_MAX_TURNS")
    config = load({"INNGEST_DEV": "1", **{k: env[k] for k in keys if env.get(k)}})
    return [_guarded(s, config, None) for s in chosen], config


def _guarded(scenario: Scenario, config: Config, claude: AnthropicFake | None) -> Outcome:
    try:
        return run_one(scenario, config, claude)
    except agent.AgentError as exc:
        return Outcome(scenario, [], None, error=f"{type(exc).__name__}: {exc}")


def table(outcomes: list[Outcome], model: str | None) -> str:
    rows = [
        "| scenario | kind | result | failed checks | action | turns | input | output "
        "| cache read | cache write | cost (USD) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        r = o.result
        failed = o.error or "; ".join(f"{c.name}: {c.why}" for c in o.checks if not c.ok)
        action = (r.action.type if r and r.action else "-") if r else "skipped by rules"
        cost = cost_usd(model, r)
        rows.append(
            f"| {o.scenario.name} | {o.scenario.kind} | {'pass' if o.passed else 'FAIL'} "
            f"| {failed.replace('|', '/') or '-'} | {action} | {r.turns if r else 0} "
            f"| {r.input_tokens if r else 0} | {r.output_tokens if r else 0} "
            f"| {r.cache_read_input_tokens if r else 0} "
            f"| {r.cache_creation_input_tokens if r else 0} "
            f"| {'-' if cost is None else f'{cost:.4f}'} |"
        )
    total = sum(cost_usd(model, o.result) or 0.0 for o in outcomes)
    passed = sum(o.passed for o in outcomes)
    rows.append("")
    rows.append(f"{passed}/{len(outcomes)} passed; total cost {total:.4f} USD")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.run", description=__doc__.split("\n")[0])
    parser.add_argument("--only", action="append", help="run only this scenario (repeatable)")
    parser.add_argument("--offline", action="store_true", help="use the scripted model")
    parser.add_argument("--out", type=Path, default=RESULTS, help="live results file")
    args = parser.parse_args(argv)
    offline = args.offline or not os.environ.get("ANTHROPIC_API_KEY")
    if offline:
        print(
            "Offline: ANTHROPIC_API_KEY is not set (or --offline), so the agent runs against a "
            "SCRIPTED model.\nThis checks the plumbing, the tool guards and the scorers, not "
            "the model. Live mode needs a key:\n  ANTHROPIC_API_KEY=sk-ant-... "
            "[ANTHROPIC_MODEL=claude-sonnet-4-6] make eval\n"
        )
    outcomes, config = run_suite(offline=offline, only=args.only)
    model = config.anthropic_model
    report = table(outcomes, None if offline else model)
    print(report)
    if not offline:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        args.out.write_text(
            f"# Eval results\n\nModel `{model}`, {stamp}, {len(outcomes)} scenarios "
            "(`make eval` with `ANTHROPIC_API_KEY`). Cost from list prices per million tokens "
            "(cache writes 1.25x input, cache reads 0.1x).\n\n" + report + "\n"
        )
        print(f"\nwrote {args.out}")
    return 0 if all(o.passed for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
