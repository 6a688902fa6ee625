"""Checks in front of the Inngest SDK's ``/api/inngest`` route, for what the SDK (0.5.19) leaves open.

* Cloud mode: a signed call whose ``t=`` is more than ``MAX_SIGNATURE_AGE`` seconds away from now is
  refused (the SDK checks the HMAC but not the age, so a captured call could be replayed forever).
* Cloud mode without ``PUBLIC_URL``: an unsigned sync ``PUT`` is refused, because the SDK would take
  the URL to register from the request's ``Host`` header (anyone could point Inngest elsewhere).
  Inngest Cloud's own (signed) sync and ``flask --app app inngest sync`` (in process) still work;
  with ``PUBLIC_URL`` set, the registered URL is pinned and ``curl -X PUT`` syncs are fine.
* A ``probe`` other than ``trust`` is answered 400 (the SDK raises on it: a 500).
"""

from __future__ import annotations

import re
import time

from flask import Flask, Response, abort, request

from support.config import Config
from support.web.errors import error_response

SERVE_PATH = "/api/inngest"
MAX_SIGNATURE_AGE = 5 * 60
TRUSTED_CLI = "support.trusted_cli"
"""WSGI environ key set by in-process CLI calls; HTTP headers can never produce it."""

_SIGNATURE_T = re.compile(r"(?:^|&)t=(\d{1,12})(?:&|$)")


def init_app(app: Flask, config: Config) -> None:
    @app.before_request
    def guard_inngest() -> tuple[Response, int] | None:
        if request.path != SERVE_PATH:
            return None
        limit = app.config.get("MAX_CONTENT_LENGTH")
        if limit and (request.content_length or 0) > limit:
            abort(413)
        probe = request.args.get("probe")
        if request.method == "PUT" and probe not in (None, "", "trust"):
            return error_response(400, "bad_request", "unknown probe")
        if config.is_dev:
            return None
        signature = request.headers.get("X-Inngest-Signature")
        if signature:
            match = _SIGNATURE_T.search(signature)
            if not match or abs(time.time() - int(match.group(1))) > MAX_SIGNATURE_AGE:
                return error_response(401, "unauthorized", "stale or malformed signature")
            return None
        if (
            request.method == "PUT"
            and not config.public_url
            and not request.environ.get(TRUSTED_CLI)
        ):
            return error_response(
                401,
                "unauthorized",
                "unsigned sync refused without PUBLIC_URL; set PUBLIC_URL or sync from Inngest",
            )
        return None
