"""Where a path's worker CPU goes: shares of py-spy samples (``make bench`` ``--profile DIR``).

``python -m benchmarks.profile_shares DIR LABEL CPU_MS`` reads the collapsed stacks
``DIR/LABEL-*.txt`` (py-spy ``--format raw``: ``frame;frame;... count`` per line, idle threads not
sampled; threads blocked waiting are dropped, see ``WAITS``) and prints, for each named part of the work, the share of the samples whose stack holds
it and that share of ``CPU_MS`` (the bench's measured worker CPU per request). Parts may overlap
(a part inside another is counted in both); "rest" is what no part matched.
"""

from __future__ import annotations

import sys
from pathlib import Path

# A thread blocked in one of these (the leaf frame) is waiting, not working: py-spy samples such
# threads unless ``--gil`` or its idle detection drops them, so they are left out here.
WAITS = (
    "concurrent/futures/thread.py:81)",
    "EpollSelector.select",
    "SocketIO.readinto",
    "SyncStream.read",
    "is_socket_readable",
    "ThreadLock.__enter__",
    "Condition.wait",
    "Event.wait",
    "_wait_for_tstate_lock",
)

# (part, substrings of a frame "function (file:line)"; any one matches)
PARTS: list[tuple[str, tuple[str, ...]]] = [
    ("Bolt: the ack path (dispatch, middleware, listener matching)", ("slack_bolt/app/app.py",)),
    ("Bolt: request deepcopy for the lazy listener", ("deepcopy",)),
    ("Bolt: form body parsing (parse_qsl / unquote)", ("parse_qsl", "parse_body")),
    ("signature checks (door + Bolt)", ("signature_problem", "is_valid_request", "hmac")),
    ("approvals.decide (the decision transaction)", ("decide (support/approvals.py",)),
    (
        "  SQLAlchemy statement building (update().where().values())",
        ("sql/dml.py", "sql/elements.py", "sql/operators.py"),
    ),
    ("  SQLAlchemy compile cache keys", ("cache_key",)),
    ("  PyMySQL (driver: send, read, parse)", ("pymysql/",)),
    ("  pool checkout / idle ping / reset", ("pool/base.py", "do_ping", "_reset", "ping")),
    ("  ORM unit of work (flush)", ("orm/unitofwork.py", "orm/persistence.py")),
    ("events: models + send (pydantic, Inngest SDK, httpx)", ("announce (slack/listeners.py",)),
    ("  pydantic model_dump / validation", ("pydantic",)),
    ("  httpx", ("httpx/",)),
    ("redraw: update_message (view, Block Kit, chat.update)", ("update_message",)),
    ("  view_of: asdict + from_dict round trip", ("view_of", "asdict", "from_dict")),
    ("  Block Kit objects + to_dict", ("request_blocks", "as_dicts", "slack_sdk/models")),
    ("  slack_sdk WebClient call (urllib)", ("slack_sdk/web/base_client.py", "urllib/request")),
    ("Flask / Werkzeug / gunicorn", ("flask/", "werkzeug/", "gunicorn/")),
    ("Inngest SDK request handling (step calls)", ("inngest/_internal",)),
    ("audit row", ("support/audit.py",)),
    ("inbox lookup", ("inbox_owner",)),
]


def main(argv: list[str]) -> int:
    directory, label, cpu_ms = Path(argv[0]), argv[1], float(argv[2])
    stacks: list[tuple[str, int]] = []
    for path in sorted(directory.glob(f"{label}-*.txt")):
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            leaf = stack.rsplit(";", 1)[-1]
            if stack and count.isdigit() and not any(w in leaf for w in WAITS):
                stacks.append((stack, int(count)))
    total = sum(c for _, c in stacks)
    if not total:
        print(f"no samples for {label} in {directory}")
        return 1
    print(f"{label}: {total} samples; worker CPU {cpu_ms:.2f} ms/request")
    print("| part | share of samples | ms of CPU per request |")
    print("|---|---:|---:|")
    matched = 0
    for name, needles in PARTS:
        hit = sum(c for s, c in stacks if any(n in s for n in needles))
        if hit:
            print(f"| {name} | {100 * hit / total:.1f}% | {cpu_ms * hit / total:.2f} |")
    top = [needles for name, needles in PARTS if not name.startswith("  ")]
    matched = sum(c for s, c in stacks if any(n in s for needles in top for n in needles))
    rest = total - matched
    print(f"| rest | {100 * rest / total:.1f}% | {cpu_ms * rest / total:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
