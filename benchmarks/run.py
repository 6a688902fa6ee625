"""``make bench``: the app and a bare Flask app under the same gunicorn settings, same load, one run.

Scenarios (each at ``--concurrency`` keep-alive connections, bounded by ``--requests`` and
``--max-seconds``), each against the app and against ``benchmarks.bare_app``:

* ``slack``: signed Approve clicks, each on a DISTINCT pending action (seeded rows; the clicks' lazy
  work - the decision UPDATE, two events, ``chat.update`` - runs in the workers after the ack and is
  drained before the next scenario);
* ``front``: signed inbound webhooks for a registered inbox (one event each to the InngestDouble);
* ``inngest``: ``POST /api/inngest?fnId=support-agent-ping&stepId=step`` as the dev
  server sends it (runs the function's one step: one audit INSERT, answers 206 StepRun).

Plus ``import app`` time (fresh interpreter, median) and gunicorn worker RSS after the load.
Everything listens on 127.0.0.1; Slack and Inngest are loopback fakes in a separate process.
Results are printed and written to ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from benchmarks.load import Request, Result, run

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
GUNICORN = str(Path(PYTHON).with_name("gunicorn"))

FRONT_SECRET = "bench-front-secret-0123456789"
SLACK_SECRET = "bench-slack-signing-secret-01"
SLACK_TOKEN = "xoxb-bench-token"
APPROVER = "U0BENCHAPPROVER"
TEAM = "T0BENCH"
CHANNEL = "C0BENCHAPPROVALS"
INBOX = "inb_bench"

TARGETS = {
    "slack_p99_ratio": 1.5,
    "slack_p99_ms": 100.0,
    "front_rps_ratio": 0.7,
    "import_s": 0.6,
    "rss_mb": 120.0,
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------- database


def prepare_database(url: str, actions: int) -> list[tuple[str, str]]:
    """Migrate, register the bench app and seed ``actions`` pending refund approvals.

    Returns the (action id, Slack ts) of each seeded request, in order.
    """
    import sqlalchemy as sa

    from support import apps, db
    from support.db import migrate
    from support.db.models import Action, ApprovalRequest

    migrate.upgrade(url)
    db.configure(url)
    app = apps.add(
        slug="bench",
        name="Bench",
        front_inbox_id=INBOX,
        integration_base_url="http://127.0.0.1:9",
        integration_secret="bench-integration-secret",
        slack_channel=CHANNEL,
    )
    seeded = [(f"act_bench_{i:06d}", f"{1700000000 + i}.000100") for i in range(actions)]
    if not seeded:
        db.dispose()
        return seeded
    with db.session() as s:
        s.execute(
            sa.insert(Action),
            [
                {
                    "id": action_id,
                    "conversation_id": f"cnv_bench_{i}",
                    "app_id": app.id,
                    "type": "refund",
                    "parameters": {"purchaseId": f"pur_{i}", "amount": 19.99, "currency": "USD"},
                    "requires_approval": True,
                    "status": "pending_approval",
                    "reasoning": "Charged twice for the same order.",
                    "draft_body": "Hi, we refunded the duplicate charge.",
                    "customer_email": f"customer{i}@example.com",
                }
                for i, (action_id, _) in enumerate(seeded)
            ],
        )
        s.execute(
            sa.insert(ApprovalRequest),
            [
                {"id": action_id, "status": "pending", "slack_channel": CHANNEL, "slack_ts": ts}
                for action_id, ts in seeded
            ],
        )
    db.dispose()
    return seeded


MARIADB_SERVER = os.environ.get("BENCH_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/")
BENCH_DATABASE = "support_agent_bench"


def choose_database(kind: str, workdir: Path) -> str:
    """A database of the bench's own: ``support_agent_bench`` (recreated) or a SQLite file."""
    import sqlalchemy as sa

    if kind in ("auto", "mariadb"):
        server = sa.create_engine(MARIADB_SERVER, connect_args={"connect_timeout": 3})
        try:
            with server.begin() as conn:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {BENCH_DATABASE}"))
                conn.execute(sa.text(f"CREATE DATABASE {BENCH_DATABASE} CHARACTER SET utf8mb4"))
            return MARIADB_SERVER.rstrip("/") + "/" + BENCH_DATABASE
        except sa.exc.OperationalError as exc:
            if kind == "mariadb":
                raise SystemExit(f"MariaDB unreachable at {MARIADB_SERVER}: {exc}") from exc
        finally:
            server.dispose()
    return f"sqlite:///{workdir / 'bench.db'}"


# ---------------------------------------------------------------- processes


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    def workers(self) -> list[int]:
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == self.proc.pid:
                pids.append(int(entry.name))
        return sorted(pids)

    def cpu_seconds(self) -> float:
        """User + system CPU time of the workers so far (robust to other load on the machine)."""
        total = 0
        for pid in self.workers():
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> list[float]:
        out = []
        for pid in self.workers():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    out.append(int(line.split()[1]) / 1024)
        return out


@contextmanager
def gunicorn(name: str, target: str, env: dict[str, str], workdir: Path) -> Iterator[Server]:
    port = free_port()
    log = workdir / f"{name}.log"
    cmd = [GUNICORN, target, "--config", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(name, port, proc, log)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not answer /healthz in 30 s")
            time.sleep(0.1)
        yield server
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def sinks(seed: dict[str, Any], workdir: Path) -> Iterator[dict[str, str]]:
    seed_path = workdir / "seed.json"
    seed_path.write_text(json.dumps(seed))
    proc = subprocess.Popen(
        [PYTHON, "-m", "benchmarks.sinks", str(seed_path)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("benchmarks.sinks did not start")
        yield json.loads(line)
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---------------------------------------------------------------- requests


def slack_clicks(seeded: list[tuple[str, str]]) -> list[Request]:
    from tests.fakes.slack import block_actions_payload, signed_interaction

    out = []
    for action_id, ts in seeded:
        payload = block_actions_payload(
            "approve_action", action_id, APPROVER, TEAM, CHANNEL, ts, username="bench"
        )
        body, headers = signed_interaction(SLACK_SECRET, payload)
        out.append(Request("POST", "/slack/events", body, headers))
    return out


def front_webhooks(count: int, tag: str) -> list[Request]:
    from tests.fakes.front import inbound_event, signed_webhook

    out = []
    for i in range(count):
        envelope = inbound_event(
            f"evt_{tag}_{i}",
            f"cnv_{tag}_{i}",
            INBOX,
            f"msg_{tag}_{i}",
            f"customer{i}@example.com",
            "Refund please",
            "I was charged twice for order 1234.",
        )
        body, headers = signed_webhook(FRONT_SECRET, envelope)
        out.append(Request("POST", "/webhooks/front", body, headers))
    return out


def inngest_calls(count: int, tag: str) -> list[Request]:
    path = "/api/inngest?fnId=support-agent-ping&stepId=step"
    out = []
    for i in range(count):
        event = {
            "name": "front/inbound_received",
            "id": f"evt_{tag}_{i}",
            "ts": int(time.time() * 1000),
            "data": {
                "conversationId": f"cnv_{tag}_{i}",
                "messageId": f"msg_{tag}_{i}",
                "appId": 1,
                "inboxId": INBOX,
                "frontEventId": f"evt_{tag}_{i}",
            },
        }
        run_id = uuid.uuid4().hex
        body = json.dumps(
            {
                "event": event,
                "events": [event],
                "steps": {},
                "ctx": {
                    "run_id": run_id,
                    "attempt": 0,
                    "max_attempts": 4,
                    "disable_immediate_execution": False,
                    "use_api": False,
                    "fn_id": "support-agent-ping",
                    "step_id": "step",
                    "stack": {"stack": [], "current": 0},
                },
                "use_api": False,
                "version": 1,
            }
        ).encode()
        headers = {"Content-Type": "application/json", "X-Inngest-Server-Kind": "dev"}
        out.append(Request("POST", path, body, headers))
    return out


# ---------------------------------------------------------------- measurements


def events_seen(inngest_url: str) -> int:
    return len(httpx.get(inngest_url + "/_double/events", timeout=30).json()["events"])


def wait_for_events(inngest_url: str, expected: int, timeout: float = 120) -> int:
    """Wait until the lazy listeners have sent their events (the clicks' background work)."""
    deadline = time.monotonic() + timeout
    seen = events_seen(inngest_url)
    while seen < expected and time.monotonic() < deadline:
        time.sleep(0.5)
        seen = events_seen(inngest_url)
    return seen


def import_time(env: dict[str, str], module: str, runs: int = 5) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    samples = []
    for _ in range(runs):
        out = subprocess.run(
            [PYTHON, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
        )
        samples.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(samples)


def measure(
    server: Server, requests: list[Request], warmup: list[Request], args: Any, label: str = ""
) -> Result:
    run(server.port, warmup, concurrency=min(args.concurrency, len(warmup)), max_seconds=30)
    cpu_before = server.cpu_seconds()
    with profiled(server, label, args.profile):
        result = run(
            server.port, requests, concurrency=args.concurrency, max_seconds=args.max_seconds
        )
    result.cpu_before = cpu_before
    result.cpu_after = server.cpu_seconds()
    return result


def cpu_ms_per_request(result: Result) -> float:
    return (result.cpu_after - result.cpu_before) * 1000 / max(1, len(result.latencies))


@contextmanager
def profiled(server: Server, label: str, out_dir: str | None) -> Iterator[None]:
    """With ``--profile DIR``: py-spy (``pip install py-spy``) samples every worker meanwhile and
    writes collapsed stacks (``DIR/<label>-<pid>.txt``, for flamegraph tools or grep)."""
    if not out_dir or not label:
        yield
        return
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    spies = [
        subprocess.Popen(
            [
                str(Path(PYTHON).with_name("py-spy")),
                "record",
                "--pid",
                str(pid),
                "--format",
                "raw",
                "--rate",
                "250",
                "--threads",
                "--output",
                f"{out_dir}/{label}-{pid}.txt",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for pid in server.workers()
    ]
    time.sleep(0.5)
    try:
        yield
    finally:
        for spy in spies:
            spy.send_signal(signal.SIGINT)
        for spy in spies:
            try:
                spy.wait(timeout=30)
            except subprocess.TimeoutExpired:
                spy.kill()


def status_text(result: Result) -> str:
    return ",".join(f"{k}x{v}" for k, v in sorted(result.statuses.items())) + (
        f",errors={result.errors}" if result.errors else ""
    )


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000, help="requests per measured run")
    parser.add_argument("--warmup", type=int, default=300, help="requests before each run")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--max-seconds", type=float, default=30.0, help="cap per measured run")
    parser.add_argument("--workers", default="2", help="gunicorn workers (WEB_CONCURRENCY)")
    parser.add_argument("--threads", default="4", help="gunicorn threads (GUNICORN_THREADS)")
    parser.add_argument(
        "--database",
        choices=["auto", "mariadb", "sqlite"],
        default="auto",
        help="auto: MariaDB (as in production) when reachable, else a fresh SQLite file",
    )
    parser.add_argument("--only", choices=["slack", "front", "inngest"], action="append")
    parser.add_argument("--no-write", action="store_true", help="do not write RESULTS.md")
    parser.add_argument("--profile", metavar="DIR", help="py-spy the app's workers into DIR")
    args = parser.parse_args(argv)
    scenarios = args.only or ["slack", "front", "inngest"]

    workdir = Path(tempfile.mkdtemp(prefix="support-bench-"))
    database_url = choose_database(args.database, workdir)
    clicks_needed = (args.requests + args.warmup) if "slack" in scenarios else 0
    print(f"bench: workdir {workdir}, database {database_url.split('@')[-1]}", flush=True)
    seeded = prepare_database(database_url, clicks_needed)
    load_before = os.getloadavg()

    seed = {"token": SLACK_TOKEN, "team": TEAM, "messages": [[CHANNEL, ts] for _, ts in seeded]}
    rows: list[dict[str, Any]] = []
    with sinks(seed, workdir) as outside:
        base_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/tmp"),
            "WEB_CONCURRENCY": args.workers,
            "GUNICORN_THREADS": args.threads,
            "FRONT_WEBHOOK_SECRET": FRONT_SECRET,
            "SLACK_SIGNING_SECRET": SLACK_SECRET,
        }
        app_env = {
            **base_env,
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
        with (
            gunicorn("app", "app:app", app_env, workdir) as app_server,
            gunicorn("bare", "benchmarks.bare_app:app", base_env, workdir) as bare_server,
        ):
            for scenario in scenarios:
                if scenario == "slack":
                    warm, main_ = seeded[: args.warmup], seeded[args.warmup :]
                    bare = measure(bare_server, slack_clicks(main_), slack_clicks(warm), args)
                    before = events_seen(outside["inngest"])
                    real = measure(
                        app_server, slack_clicks(main_), slack_clicks(warm), args, "slack"
                    )
                    clicks = len(real.latencies) + len(warm)
                    drained = wait_for_events(outside["inngest"], before + 2 * clicks) - before
                    time.sleep(1)  # the last chat.update calls
                    real.cpu_after = app_server.cpu_seconds()
                    note = (
                        f"lazy work after the acks: {drained // 2}/{clicks} decisions sent "
                        "(2 events each, warm-up included)"
                    )
                elif scenario == "front":
                    bare = measure(
                        bare_server,
                        front_webhooks(args.requests, "b"),
                        front_webhooks(args.warmup, "bw"),
                        args,
                    )
                    before = events_seen(outside["inngest"])
                    real = measure(
                        app_server,
                        front_webhooks(args.requests, "a"),
                        front_webhooks(args.warmup, "aw"),
                        args,
                        "front",
                    )
                    sent = events_seen(outside["inngest"]) - before
                    note = f"events received by the double: {sent} (warm-up included)"
                else:
                    bare = measure(
                        bare_server,
                        inngest_calls(args.requests, "b"),
                        inngest_calls(args.warmup, "bw"),
                        args,
                    )
                    real = measure(
                        app_server,
                        inngest_calls(args.requests, "a"),
                        inngest_calls(args.warmup, "aw"),
                        args,
                        "inngest",
                    )
                    note = "one step executed per call (1 audit INSERT), 206 StepRun"
                rows.append({"scenario": scenario, "app": real, "bare": bare, "note": note})
                print_row(rows[-1])
            app_rss, bare_rss = app_server.rss_mb(), bare_server.rss_mb()
            app_log = app_server.log.read_text(errors="replace")

    import_env = {
        "PATH": os.environ.get("PATH", ""),
        "INNGEST_DEV": "1",
        "DATABASE_URL": f"sqlite:///{workdir / 'import.db'}",
        "LOG_LEVEL": "WARNING",
    }
    load_after = os.getloadavg()
    app_import = import_time(import_env, "app")
    bare_import = import_time(import_env, "benchmarks.bare_app")
    tracebacks = app_log.count("Traceback")

    report = render(
        rows, app_import, bare_import, app_rss, bare_rss, tracebacks, args, database_url
    )
    report = report.replace(
        "LOADAVG", f"{load_before[0]:.1f} before the run, {load_after[0]:.1f} after"
    )
    print()
    print(report)
    if not args.no_write:
        path = ROOT / "benchmarks" / "RESULTS.md"
        previous = path.read_text() if path.exists() else ""
        marker = "\n## Analysis"
        if marker in previous:  # the hand-written analysis survives a re-run
            report += previous[previous.index(marker) :]
        path.write_text(report)
        print("written to benchmarks/RESULTS.md")
    return 0


def print_row(row: dict[str, Any]) -> None:
    app, bare = row["app"], row["bare"]
    print(
        f"{row['scenario']:8} app {app.rps:8.0f} req/s p50 {app.p50_ms:6.1f} ms p99 "
        f"{app.p99_ms:6.1f} ms [{status_text(app)}] | bare {bare.rps:8.0f} req/s p50 "
        f"{bare.p50_ms:6.1f} ms p99 {bare.p99_ms:6.1f} ms [{status_text(bare)}] | CPU ms/req "
        f"{cpu_ms_per_request(app):.2f} / {cpu_ms_per_request(bare):.2f}",
        flush=True,
    )


def machine() -> dict[str, str]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    return {
        "cpus": str(os.cpu_count()),
        "cpu": cpu,
        "memory": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def render(
    rows: list[dict[str, Any]],
    app_import: float,
    bare_import: float,
    app_rss: list[float],
    bare_rss: list[float],
    tracebacks: int,
    args: Any,
    database_url: str,
) -> str:
    m = machine()
    db_kind = "MariaDB" if database_url.startswith("mysql") else "SQLite (WAL)"
    lines = [
        "# Benchmark results",
        "",
        f"Run: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')} with `make bench` "
        f"(`python -m benchmarks.run`).",
        f"Machine: {m['cpus']} CPUs ({m['cpu']}), {m['memory']} RAM, Python {m['python']}, "
        f"Linux {m['kernel']}. The load generator, the fakes and both servers share these CPUs; "
        "1-min load average LOADAVG (anything else running on the machine skews the numbers).",
        f"Server: gunicorn gthread, {args.workers} workers x {args.threads} threads, same "
        f"`gunicorn.conf.py` for both apps; database {db_kind}.",
        f"Load: {args.concurrency} concurrent keep-alive connections (closed loop), "
        f"{args.requests} requests per measured run after {args.warmup} warm-up requests, "
        f"capped at {args.max_seconds:.0f} s; latency measured by the client.",
        "",
        "| scenario | app req/s | app p50 ms | app p99 ms | bare req/s | bare p50 ms | bare p99 ms "
        "| req/s ratio | p99 ratio | worker CPU ms/req app / bare | statuses (app / bare) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        app, bare = row["app"], row["bare"]
        lines.append(
            f"| {row['scenario']} | {app.rps:.0f} | {app.p50_ms:.1f} | {app.p99_ms:.1f} | "
            f"{bare.rps:.0f} | {bare.p50_ms:.1f} | {bare.p99_ms:.1f} | "
            f"{app.rps / bare.rps:.2f} | {app.p99_ms / bare.p99_ms:.2f} | "
            f"{cpu_ms_per_request(app):.2f} / {cpu_ms_per_request(bare):.2f} | "
            f"{status_text(app)} / {status_text(bare)} |"
        )
    lines += ["", "Notes per scenario:"]
    lines += [f"- {row['scenario']}: {row['note']}" for row in rows]
    lines += [
        "",
        f"- `import app` (fresh interpreter, median of 5): {app_import:.3f} s "
        f"(bare Flask app: {bare_import:.3f} s)",
        f"- worker RSS after the load: app {', '.join(f'{r:.0f}' for r in app_rss)} MB; "
        f"bare {', '.join(f'{r:.0f}' for r in bare_rss)} MB",
        f"- tracebacks in the app's log during the run: {tracebacks}",
        "",
        "## Targets",
        "",
        "| target | measured | verdict |",
        "|---|---|---|",
    ]
    by_name = {row["scenario"]: row for row in rows}
    if "slack" in by_name:
        app, bare = by_name["slack"]["app"], by_name["slack"]["bare"]
        ratio = app.p99_ms / bare.p99_ms
        lines.append(
            f"| Slack ack p99 <= {TARGETS['slack_p99_ratio']}x bare | {ratio:.2f}x "
            f"| {verdict(ratio <= TARGETS['slack_p99_ratio'])} |"
        )
        lines.append(
            f"| Slack ack p99 <= {TARGETS['slack_p99_ms']:.0f} ms at {args.concurrency} concurrent "
            f"| {app.p99_ms:.1f} ms | {verdict(app.p99_ms <= TARGETS['slack_p99_ms'])} |"
        )
    if "front" in by_name:
        app, bare = by_name["front"]["app"], by_name["front"]["bare"]
        ratio = app.rps / bare.rps
        lines.append(
            f"| Front webhook req/s >= {TARGETS['front_rps_ratio']}x bare | {ratio:.2f}x "
            f"| {verdict(ratio >= TARGETS['front_rps_ratio'])} |"
        )
    lines.append(
        f"| `import app` <= {TARGETS['import_s']} s | {app_import:.3f} s "
        f"| {verdict(app_import <= TARGETS['import_s'])} |"
    )
    worst = max(app_rss) if app_rss else float("nan")
    lines.append(
        f"| RSS <= {TARGETS['rss_mb']:.0f} MB per worker | {worst:.0f} MB (largest worker) "
        f"| {verdict(worst <= TARGETS['rss_mb'])} |"
    )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
