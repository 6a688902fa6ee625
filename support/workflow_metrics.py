"""Inngest middleware counting function runs that fail for good (``support_workflow_failures_total``).

The SDK calls ``transform_input`` before running a function (with the function and the attempt
number) and ``transform_output`` with what the function or its step produced. A *function-level*
error (not a step's, which Inngest retries as a step) ends the run when it is not retriable
(``NonRetriableError``, a step that failed for good re-raised as ``StepError``...) or when it
happens on the last attempt (``retries`` of the function, Inngest's default 4 when unset).
"""

from __future__ import annotations

from typing import Any

import inngest
from inngest._internal import errors as inngest_errors

from support import metrics

DEFAULT_RETRIES = 4


class WorkflowFailures(inngest.MiddlewareSync):
    function_id: str | None = None
    final_attempt: bool = False

    def transform_input(self, ctx: Any, function: Any, steps: Any) -> None:
        retries = function._opts.retries
        self.function_id = function.local_id
        self.final_attempt = ctx.attempt >= (DEFAULT_RETRIES if retries is None else retries)

    def transform_output(self, result: Any) -> None:
        error = result.error
        if error is None or result.step is not None or self.function_id is None:
            return
        if self.final_attempt or not inngest_errors.is_retriable(error):
            metrics.workflow_failed(self.function_id)
