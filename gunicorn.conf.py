"""gunicorn settings for production (`gunicorn app:app`); every value can be overridden by env.

``INNGEST_SYNC_ON_START=true`` registers the functions with Inngest once the master is ready.
``PYTHON_SWITCH_INTERVAL_MS`` (default 1) is the GIL switch interval in each worker.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
graceful_timeout = 30
keepalive = 5
accesslog = "-" if os.environ.get("ACCESS_LOG", "").lower() in ("1", "true") else None
preload_app = False
# Threads per worker: keep it at most the database pool size (support/db: pool_size=5). Above it,
# under load, SQLAlchemy opens and closes overflow connections per request (measured with 8: 148
# new MariaDB connections in one Front webhook run, CPU per webhook 1.7 -> 2.5 ms).


# A hung Inngest event API must not starve the Slack door (3 s acks): the Front door's send is one
# bounded attempt (~3.25 s at most, then 503), at most threads - 1 of them wait at once per worker,
# and after a timeout the next sends answer 503 at once for a few seconds (support/inngest_client).


def post_fork(server: Any, worker: Any) -> None:
    from support import inngest_client

    inngest_client.set_send_slots(threads - 1)
    # Python's default GIL switch interval (5 ms) lets a thread doing a click's follow-up work (rows,
    # JSON, Block Kit) keep the GIL for 5 ms while an ack waits for it; at 1 ms the Slack ack p99
    # under 50 concurrent clicks fell from ~180 to ~130 ms at no extra CPU (benchmarks/RESULTS.md).
    sys.setswitchinterval(float(os.environ.get("PYTHON_SWITCH_INTERVAL_MS", "1")) / 1000)


def when_ready(server: Any) -> None:
    if os.environ.get("INNGEST_SYNC_ON_START", "").lower() not in ("1", "true", "yes", "on"):
        return
    from app import app
    from support import inngest_sync

    try:
        message = inngest_sync.sync(app, app.extensions["support.config"].public_url)
        server.log.info("inngest.sync.ok %s", message)
    except Exception:
        logging.getLogger("support.inngest").exception("inngest.sync.failed")


def on_starting(server: Any) -> None:
    # prometheus_client's multiprocess mode (docs/observability.md): the master starts with an empty
    # directory, so the counters of a previous run are not summed into this one. Only its own
    # files (*.db) are removed.
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path and os.path.isdir(path):
        for name in os.listdir(path):
            if name.endswith(".db"):
                os.remove(os.path.join(path, name))


def child_exit(server: Any, worker: Any) -> None:
    # A worker is gone: drop its live-gauge files (its counters stay, so totals never go back).
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
