"""Register this app's functions with the Inngest server.

The SDK registers when its serve path receives a PUT; we make that PUT in process (Flask's test
client) with the public origin as base URL, so the server learns the URL it must call. The SDK's
answer is 200 even when the server refused the registration, so the body is checked too.
"""

from __future__ import annotations

import json

from flask import Flask

from support.web.inngest_guard import TRUSTED_CLI


class SyncError(Exception):
    pass


def sync(app: Flask, public_url: str | None) -> str:
    base = (public_url or "http://127.0.0.1:3000").rstrip("/")
    with app.test_client() as client:
        response = client.put("/api/inngest", base_url=base, environ_base={TRUSTED_CLI: True})
    body = response.get_data(as_text=True)
    try:
        parsed = json.loads(body) if body else {}
    except ValueError:
        parsed = {}
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if response.status_code >= 300 or error:
        raise SyncError(
            f"Inngest registration failed (HTTP {response.status_code}): {error or body[:500]}"
        )
    return f"registered functions at {base}/api/inngest"
