"""What metrics cost: the Front webhook and the Slack click with metrics on and off, one interleaved run.

Two gunicorn servers of the app with the same settings (production ``gunicorn.conf.py``, same
database, same loopback fakes from ``benchmarks.sinks``): "on" has ``METRICS_TOKEN`` and
``PROMETHEUS_MULTIPROC_DIR`` (multiprocess mode, as in production with several workers), "off" has
neither. Each round sends the same number of Front webhooks and Slack Approve clicks (each on its
own pending action) to one server then the other, alternating which goes first; a click's worker
CPU includes its lazy work after the ack (the decision, two events, ``chat.update``), drained
before the CPU is read. The result is worker CPU (user + system, from /proc) per request, summed
over the rounds, and the on/off ratio (target: at most 1.05).

    .venv/bin/python -m benchmarks.metrics_overhead [--rounds 4] [--requests 400]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import httpx

from benchmarks.load import Request, run
from benchmarks.run import (
    APPROVER,
    CHANNEL,
    FRONT_SECRET,
    MARIADB_SERVER,
    SLACK_SECRET,
    SLACK_TOKEN,
    TEAM,
    Server,
    events_seen,
    front_webhooks,
    gunicorn,
    prepare_database,
    sinks,
    slack_clicks,
    wait_for_events,
)

DATABASE = "support_agent_metrics_bench"
TOKEN = "bench-metrics-token-0123456789"
TARGET = 1.05


def choose_database(kind: str, workdir: Path) -> str:
    """A database of this script's own (``support_agent_metrics_bench``, recreated) or SQLite."""
    import sqlalchemy as sa

    if kind in ("auto", "mariadb"):
        server = sa.create_engine(MARIADB_SERVER, connect_args={"connect_timeout": 3})
        try:
            with server.begin() as conn:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {DATABASE}"))
                conn.execute(sa.text(f"CREATE DATABASE {DATABASE} CHARACTER SET utf8mb4"))
            return MARIADB_SERVER.rstrip("/") + "/" + DATABASE
        except sa.exc.OperationalError as exc:
            if kind == "mariadb":
                raise SystemExit(f"MariaDB unreachable at {MARIADB_SERVER}: {exc}") from exc
        finally:
            server.dispose()
    return f"sqlite:///{workdir / 'bench.db'}"


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--requests", type=int, default=400, help="per scenario, server and round")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--workers", default="2")
    parser.add_argument("--database", choices=["auto", "mariadb", "sqlite"], default="auto")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="support-metrics-bench-"))
    multiproc = workdir / "prometheus"
    multiproc.mkdir()
    database_url = choose_database(args.database, workdir)
    per_server = args.warmup + args.rounds * args.requests
    seeded = prepare_database(database_url, 2 * per_server)
    clicks = {"on": seeded[:per_server], "off": seeded[per_server:]}
    print(f"metrics bench: database {database_url.split('@')[-1]}, workdir {workdir}", flush=True)

    seed = {"token": SLACK_TOKEN, "team": TEAM, "messages": [[CHANNEL, ts] for _, ts in seeded]}
    cpu: dict[tuple[str, str], float] = defaultdict(float)
    count: dict[tuple[str, str], int] = defaultdict(int)
    try:
        with sinks(seed, workdir) as outside:
            os.environ["BENCH_INNGEST_URL"] = outside["inngest"]
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "HOME": os.environ.get("HOME", "/tmp"),
                "WEB_CONCURRENCY": args.workers,
                "FRONT_WEBHOOK_SECRET": FRONT_SECRET,
                "SLACK_SIGNING_SECRET": SLACK_SECRET,
                "INNGEST_DEV": "1",
                "INNGEST_BASE_URL": outside["inngest"],
                "DATABASE_URL": database_url,
                "SLACK_BOT_TOKEN": SLACK_TOKEN,
                "SLACK_API_BASE_URL": outside["slack"] + "/api/",
                "SLACK_APPROVER_IDS": APPROVER,
                "SLACK_TEAM_ID": TEAM,
                "SLACK_APPROVAL_CHANNEL": CHANNEL,
                "FRONT_API_TOKEN": "bench-front-token",
                "ANTHROPIC_API_KEY": "sk-ant-bench",
                "LOG_LEVEL": "WARNING",
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
                    for name in order:
                        hooks = front_webhooks(args.requests, f"r{r}{name}")
                        cpu[name, "front"] += cpu_of(servers[name], hooks, args.concurrency)
                        count[name, "front"] += len(hooks)
                        batch = next_clicks(name, args.requests)
                        cpu[name, "slack"] += cpu_of(
                            servers[name], batch, args.concurrency, drain=2 * len(batch)
                        )
                        count[name, "slack"] += len(batch)
                    print(f"round {r + 1}/{args.rounds} done", flush=True)
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
    print("scenario | worker CPU ms/request, metrics on | off | on/off")
    worst = 0.0
    for scenario in ("front", "slack"):
        on_ms = cpu["on", scenario] * 1000 / count["on", scenario]
        off_ms = cpu["off", scenario] * 1000 / count["off", scenario]
        ratio = on_ms / off_ms
        worst = max(worst, ratio)
        print(f"{scenario:8} | {on_ms:.3f} | {off_ms:.3f} | {ratio:.3f}")
    print(
        f"/metrics on the 'on' server counted {approved:.0f} approved decisions (warm-up included)"
    )
    verdict = "OK" if worst <= TARGET else "OVER"
    print(f"target on/off <= {TARGET}: {verdict} (worst {worst:.3f})")
    return 0 if worst <= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
