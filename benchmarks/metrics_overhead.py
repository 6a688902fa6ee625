"""What metrics cost: the Front webhook and the Slack click with metrics on and off, one interleaved run.

Two gunicorn servers of the app with the same settings (production ``gunicorn.conf.py``, same
database, same loopback fakes from ``benchmarks.sinks``): "on" has ``METRICS_TOKEN`` and
``PROMETHEUS_MULTIPROC_DIR`` (multiprocess mode, as in production with several workers), "off" has
neither. Each round sends the same number of Front webhooks and Slack Approve clicks (each on its
own pending action) to one server then the other, alternating which goes first; a click's worker
CPU includes its lazy work after the ack (the decision, two events, ``chat.update``), drained
before the CPU is read. The result is worker CPU (user + system, from /proc) per request, summed
over the rounds, and the on/off ratio (target: at most 1.05), with each round's ratio to show the
noise of a shared machine.

The same run also times, in a separate interpreter in multiprocess mode, exactly the metric calls a
request makes (a webhook: the door counter; a click: the door counter, the ack histogram, the
decision counter and histogram, and the Slack error check of its two Web API answers), which gives
the metrics' own cost per request without the machine's noise.

    .venv/bin/python -m benchmarks.metrics_overhead [--rounds 8] [--requests 200]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import httpx

from benchmarks.load import Request, run
from benchmarks.run import (
    CHANNEL,
    FRONT_SECRET,
    MARIADB_SERVER,
    SLACK_SECRET,
    SLACK_TOKEN,
    TEAM,
    Server,
    choose_database,
    events_seen,
    front_webhooks,
    gunicorn,
    prepare_database,
    service_env,
    sinks,
    slack_clicks,
    wait_for_events,
)

DATABASE = "support_agent_metrics_bench"
TOKEN = "bench-metrics-token-0123456789"
TARGET = 1.05


def drop_database(url: str) -> None:
    if url.startswith("mysql"):
        import sqlalchemy as sa

        server = sa.create_engine(MARIADB_SERVER)
        with server.begin() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {DATABASE}"))
        server.dispose()


def cpu_of(server: Server, requests: list[Request], concurrency: int, drain: int = 0) -> float:
    """Worker CPU seconds spent on ``requests`` (and, for clicks, on ``drain`` events after)."""
    inngest = os.environ["BENCH_INNGEST_URL"]
    before_events = events_seen(inngest)
    before = server.cpu_seconds()
    result = run(server.port, requests, concurrency=concurrency, max_seconds=300)
    bad = {s: n for s, n in result.statuses.items() if s != 200}
    if bad or result.errors or len(result.latencies) != len(requests):
        raise SystemExit(f"{server.name}: statuses {dict(result.statuses)}, {result.errors} errors")
    if drain:
        seen = wait_for_events(inngest, before_events + drain) - before_events
        if seen < drain:
            raise SystemExit(f"{server.name}: only {seen}/{drain} events after the clicks")
        time.sleep(0.5)  # the last chat.update calls after the events
    return server.cpu_seconds() - before


def direct_cost(iterations: int = 20000) -> dict[str, float]:
    """Microseconds of the metric calls of one webhook and one click (metrics on, multiprocess)."""
    import datetime as dt

    from slack_sdk.http_retry import RetryState
    from slack_sdk.http_retry.request import HttpRequest
    from slack_sdk.http_retry.response import HttpResponse

    from slack.error_metrics import ErrorCounter
    from support import metrics
    from support.config import load

    assert os.environ.get("PROMETHEUS_MULTIPROC_DIR"), "run in multiprocess mode"
    metrics.configure(load({"INNGEST_DEV": "1", "METRICS_TOKEN": TOKEN}))
    now = dt.datetime(2026, 1, 1, 12)
    created = now - dt.timedelta(minutes=7)
    counter = ErrorCounter()
    request = HttpRequest(method="POST", url="https://slack.com/api/chat.update", headers={})
    answer = HttpResponse(status_code=200, headers={}, body={"ok": True}, data=b"")

    def webhook() -> None:
        metrics.door_response("front", 200, None, 0.004)

    def click() -> None:
        metrics.door_response("slack", 200, None, 0.012)
        metrics.decision("approved", created, now)
        for _ in range(2):
            counter.can_retry(state=RetryState(), request=request, response=answer)

    out = {}
    for name, fn in (("front", webhook), ("slack", click)):
        fn()
        started = time.process_time()
        for _ in range(iterations):
            fn()
        out[name] = (time.process_time() - started) / iterations * 1e6
    return out


def measure_direct_cost(workdir: Path) -> dict[str, float]:
    directory = workdir / "direct"
    directory.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory), "INNGEST_DEV": "1"}
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.metrics_overhead", "--direct"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--direct", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--requests", type=int, default=200, help="per scenario, server and round")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--workers", default="2")
    parser.add_argument("--database", choices=["auto", "mariadb", "sqlite"], default="auto")
    args = parser.parse_args(argv)
    if args.direct:
        print(json.dumps(direct_cost()))
        return 0

    workdir = Path(tempfile.mkdtemp(prefix="support-metrics-bench-"))
    multiproc = workdir / "prometheus"
    multiproc.mkdir()
    database_url = choose_database(args.database, workdir, DATABASE)
    per_server = args.warmup + args.rounds * args.requests
    seeded = prepare_database(database_url, 2 * per_server)
    clicks = {"on": seeded[:per_server], "off": seeded[per_server:]}
    print(f"metrics bench: database {database_url.split('@')[-1]}, workdir {workdir}", flush=True)

    seed = {"token": SLACK_TOKEN, "team": TEAM, "messages": [[CHANNEL, ts] for _, ts in seeded]}
    cpu: dict[tuple[str, str], float] = defaultdict(float)
    count: dict[tuple[str, str], int] = defaultdict(int)
    per_round: dict[str, list[float]] = defaultdict(list)
    try:
        with sinks(seed, workdir) as outside:
            os.environ["BENCH_INNGEST_URL"] = outside["inngest"]
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "HOME": os.environ.get("HOME", "/tmp"),
                "WEB_CONCURRENCY": args.workers,
                "FRONT_WEBHOOK_SECRET": FRONT_SECRET,
                "SLACK_SIGNING_SECRET": SLACK_SECRET,
                **service_env(outside, database_url),
            }
            on_env = {**env, "METRICS_TOKEN": TOKEN, "PROMETHEUS_MULTIPROC_DIR": str(multiproc)}
            with (
                gunicorn("on", "app:app", on_env, workdir) as on,
                gunicorn("off", "app:app", env, workdir) as off,
            ):
                servers = {"on": on, "off": off}
                taken = {"on": 0, "off": 0}

                def next_clicks(name: str, n: int) -> list[Request]:
                    batch = clicks[name][taken[name] : taken[name] + n]
                    taken[name] += n
                    return slack_clicks(batch)

                for name, server in servers.items():  # warm-up, not measured
                    cpu_of(server, front_webhooks(args.warmup, f"w{name}"), args.concurrency)
                    warm = next_clicks(name, args.warmup)
                    cpu_of(server, warm, args.concurrency, drain=2 * len(warm))
                for r in range(args.rounds):
                    order = ["on", "off"] if r % 2 == 0 else ["off", "on"]
                    spent: dict[tuple[str, str], float] = {}
                    for name in order:
                        hooks = front_webhooks(args.requests, f"r{r}{name}")
                        spent[name, "front"] = cpu_of(servers[name], hooks, args.concurrency)
                        batch = next_clicks(name, args.requests)
                        spent[name, "slack"] = cpu_of(
                            servers[name], batch, args.concurrency, drain=2 * len(batch)
                        )
                    for (name, scenario), seconds in spent.items():
                        cpu[name, scenario] += seconds
                        count[name, scenario] += args.requests
                    for scenario in ("front", "slack"):
                        per_round[scenario].append(spent["on", scenario] / spent["off", scenario])
                    ratios = ", ".join(f"{k} {v[-1]:.3f}" for k, v in per_round.items())
                    print(f"round {r + 1}/{args.rounds}: on/off {ratios}", flush=True)
                scraped = httpx.get(
                    f"http://127.0.0.1:{on.port}/metrics",
                    headers={"Authorization": f"Bearer {TOKEN}"},
                    timeout=30,
                ).text
    finally:
        drop_database(database_url)

    approved = sum(
        float(line.split()[-1])
        for line in scraped.splitlines()
        if line.startswith('support_decisions_total{outcome="approved"}')
    )
    print()
    print(f"workers {args.workers}, {args.rounds} rounds x {args.requests} requests per scenario")
    direct = measure_direct_cost(workdir)
    print(
        "scenario | worker CPU ms/request, metrics on | off | on/off (all rounds) | "
        "median of rounds | metric calls alone: us/request, % of off"
    )
    worst = 0.0
    for scenario in ("front", "slack"):
        on_ms = cpu["on", scenario] * 1000 / count["on", scenario]
        off_ms = cpu["off", scenario] * 1000 / count["off", scenario]
        ratio = on_ms / off_ms
        median = statistics.median(per_round[scenario])
        worst = max(worst, ratio)
        share = direct[scenario] / (off_ms * 1000) * 100
        print(
            f"{scenario:8} | {on_ms:.3f} | {off_ms:.3f} | {ratio:.3f} | {median:.3f} | "
            f"{direct[scenario]:.1f} us, {share:.2f} %"
        )
    print(
        f"/metrics on the 'on' server counted {approved:.0f} approved decisions (warm-up included)"
    )
    verdict = "OK" if worst <= TARGET else "OVER"
    print(f"target on/off <= {TARGET}: {verdict} (worst {worst:.3f})")
    return 0 if worst <= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
