"""gunicorn settings for production (`gunicorn app:app`); every value can be overridden by env.

``INNGEST_SYNC_ON_START=true`` registers the functions with Inngest once the master is ready.
"""

from __future__ import annotations

import logging
import os
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
