"""An Inngest server test double that speaks the Python SDK's real HTTP protocol.

Point an app at it with the SDK's own settings (``INNGEST_DEV=1`` +
``INNGEST_BASE_URL=d.url``, or ``api_base_url``/``event_api_base_url``), then
``d.sync(app_serve_url)``.  Checked against inngest 0.5.19's source.

Modelled
  * Sync: the SDK's ``POST /fn/register`` (answer ``{"ok": true, "modified"}``,
    400 ``{"error"}`` for bad config or invalid CEL, 401 for a wrong bearer in
    cloud mode).  ``GET /v0/runs/{id}/batch|actions``, ``GET /dev``, ``/health``.
  * Event API ``POST /e/{key}`` -> ``{"ids", "status": 200}``; cloud mode
    rejects a wrong key (401).  Event ``id`` dedup for 24 h.  Each event cancels
    matching runs (``cancel`` rules), resumes waits registered *before* it
    arrived, then triggers functions (name, ``*`` suffix, CEL ``expression``).
  * Call requests exactly as the executor sends them (``event``, ``events``,
    ``steps``, ``ctx`` with ``run_id``, ``attempt``, ``max_attempts``,
    ``disable_immediate_execution``, ``stack``; ``use_api: false``), to
    ``...?fnId=<id>&stepId=step|<hashed id>``.
  * Opcodes: StepRun (memo ``{"data"}``), StepPlanned (targeted calls, then
    discovery with ``disable_immediate_execution``), Sleep (relative to the
    SDK's clock, fired by the virtual clock, memo null), WaitForEvent (CEL
    ``if`` with ``event``/``async``, timeout -> null, match -> the event),
    InvokeFunction (child run from ``inngest/function.invoked``; memo
    ``{"data": output}`` or ``{"error"}``; optional timeout), StepError
    (retry with attempt+1) and StepFailed (memo ``{"error"}``).  200 = done;
    other statuses = function error, retried unless ``x-inngest-no-retry:
    true``; ``retry-after`` (seconds or ISO time) honoured on the virtual clock.
    Default 4 retries (5 attempts) when the SDK sends no ``retries``.
  * Flow control: throttle (the server's GCRA: ``limit+burst`` at once, then
    one per ``period/limit``; FIFO queue per key), concurrency (limits
    *executing calls* per key like the real server; sleeping/waiting runs hold
    no slot), rate limit (drops), idempotency (CEL key, 24 h), debounce (last
    event, ``period``/``timeout``).
  * Cloud mode (``signing_key``): every call is signed
    ``X-Inngest-Signature: t=<unix s>&s=HMAC_SHA256(key-without-prefix,
    JCS(body) + t)``, ``X-Inngest-Server-Kind: cloud`` (``dev`` otherwise);
    SDK response signatures are verified (mismatches -> ``protocol_errors``).
  * Internal events ``inngest/function.finished|failed|cancelled`` (kept in
    ``internal_events``; they trigger on_failure handlers and can resume waits).
  * Cron: ``trigger_cron()`` starts a run with ``inngest/scheduled.timer``.
  * Limits: an Event API request over 256 KiB (Inngest Cloud's free-tier
    maximum event size) is refused with 413 (``refused_events``); a step
    returning more than 4 MB fails the run (``OutputTooLarge``).
  * Faults: ``hang_event_api(seconds)`` makes the Event API accept connections
    and answer nothing (``hung_requests`` counts them) until
    ``release_event_api()``.

Not modelled
  Event batching (each event runs alone), priority, singleton, function
  timeouts, step.ai, Connect (``/v0/connect`` is 404), real cron schedules,
  ``use_api`` trimming (always ``false``), realistic retry backoff (retries
  are immediate unless ``retry_delay`` or ``retry-after``), run/step
  timeouts, parallel "race" mode, multi-environment keys and key rotation.
"""

from ._double import InngestDouble
from ._model import FunctionDef, Run
from ._support import hash_step_id

__all__ = ["FunctionDef", "InngestDouble", "Run", "hash_step_id"]
