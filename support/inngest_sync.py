"""Register this app's functions with the Inngest server.

The SDK registers when its serve path receives a PUT; we make that PUT in process (Flask's test
client) with the public origin as base URL, so the server learns the URL it must call. The SDK's
answer is 200 even when the server refused the registration, so the body is checked too.

Which URL is registered: ``--url``, else ``PUBLIC_URL``; in dev mode only, else
``http://127.0.0.1:$PORT`` (the dev server runs beside us). In cloud mode without either, nothing
is registered: a loopback URL would be accepted by Inngest and every run would then fail.
"""

from __future__ import annotations

import json
import re

from flask import Flask

from support.config import Config
from support.web.inngest_guard import TRUSTED_CLI

SERVE_PATH = "/api/inngest"
NO_ANSWER = re.compile(r"Failed request to (\S+?)(?::)? (.*)$")


class SyncError(Exception):
    pass


def origin_for(config: Config, url: str | None) -> str:
    """The origin to register, or ``SyncError`` saying why none can be chosen."""
    if url is not None:
        if not re.fullmatch(r"https?://[^/\s?#]+(/[^\s?#]*)?", url.strip()):
            raise SyncError(
                f"--url {url!r} is not an http(s) URL: give the public origin of this service, "
                "e.g. --url https://support.example.com"
            )
        return url.strip().rstrip("/")
    if config.public_url:
        return config.public_url
    if config.is_dev:
        return f"http://127.0.0.1:{config.port}"
    raise SyncError(
        "PUBLIC_URL is unset: Inngest Cloud must be told the public URL of /api/inngest. "
        "Set PUBLIC_URL=https://support.example.com (or pass --url); nothing was registered"
    )


def sync(app: Flask, public_url: str | None) -> str:
    """Register at ``public_url`` (already chosen by ``origin_for`` or read from PUBLIC_URL)."""
    config: Config = app.extensions["support.config"]
    base = origin_for(config, public_url)
    with app.test_client() as client:
        response = client.put(SERVE_PATH, base_url=base, environ_base={TRUSTED_CLI: True})
    body = response.get_data(as_text=True)
    try:
        parsed = json.loads(body) if body else {}
    except ValueError:
        parsed = {}
    if not isinstance(parsed, dict):
        parsed = {}
    error = parsed.get("error") or parsed.get("message")
    if response.status_code >= 300 or parsed.get("error"):
        no_answer = NO_ANSWER.search(str(error or ""))
        if no_answer:
            raise SyncError(
                f"Inngest registration failed: no answer from {no_answer.group(1)} "
                f"({no_answer.group(2)}); is the Inngest server running there? Check "
                "INNGEST_BASE_URL / INNGEST_DEV (dev) or outbound network (cloud)"
            )
        raise SyncError(
            f"Inngest registration failed (the server answered; SDK status "
            f"{response.status_code}): {error or body[:500]}"
        )
    return f"registered functions at {base}{SERVE_PATH}"
