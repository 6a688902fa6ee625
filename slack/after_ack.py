"""What follows a Slack acknowledgement: run on Bolt's listener executor, after the answer.

Bolt's *lazy listeners* run on that same executor (``App.listener_runner.listener_executor``, Bolt's
thread pool, separate from the web server's threads, so a hung Slack or Inngest never holds a
thread that answers Slack). For each lazy listener Bolt rebuilds the request from its raw body and
deep-copies it with its context (the per-request ``WebClient`` included): about 0.4 ms of CPU per
click, measured (benchmarks/RESULTS.md). A listener here hands over instead the few immutable
values its follow-up needs (the parsed click, the decision's record, the request's client).
A failure is logged; what a follow-up does is never the only record of anything (the decision is
in the database; ``reconcile-decisions`` re-sends its events, the workflow redraws the message).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from slack_bolt import App

log = logging.getLogger(__name__)

Work = Callable[[], None]


class Later(Protocol):
    def __call__(self, work: Work) -> None: ...


def later_on(app: App) -> Later:
    """``later(work)``: run ``work`` on ``app``'s listener executor, once the listener returned
    (with ``process_before_response=True`` the answer is sent when the listener returns; the pool
    has a few threads, so ``work`` may start a moment before the answer is written)."""
    executor = app.listener_runner.listener_executor

    def later(work: Work) -> None:
        executor.submit(_logged, work)

    return later


def _logged(work: Work) -> None:
    try:
        work()
    except Exception:
        log.exception("slack.after_ack_failed work=%s", getattr(work, "__qualname__", work))
