"""``inngest``: the dev server answers, or (cloud) keys well-formed, ``PUBLIC_URL`` set, server up.

No event is ever sent.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import httpx

from support.config import Config
from support.doctor.report import FIXES, Check, error_text
from support.inngest_client import APP_ID

DEV_SERVER_URL = "http://127.0.0.1:8288"
SERVE_PATH = "/api/inngest"


def inngest_checks(config: Config, timeout: float) -> list[Check]:
    if config.is_dev:
        return [_dev_server_check(config, timeout)]
    checks: list[Check] = []
    key = config.inngest_signing_key
    if key:
        env, hex_part = _key_parts(key)
        if len(hex_part) == 64:
            checks.append(Check("ok", "inngest.signing_key", f"well-formed (environment {env!r})"))
        else:
            checks.append(
                Check(
                    "warn",
                    "inngest.signing_key",
                    f"key of environment {env!r} has {len(hex_part)} hex digits where Inngest's "
                    "have 64: probably cut short when copied",
                    FIXES["INNGEST_SIGNING_KEY"],
                )
            )
        fallback = config.inngest_signing_key_fallback
        if fallback and fallback == key:
            checks.append(
                Check(
                    "warn",
                    "inngest.signing_key",
                    "INNGEST_SIGNING_KEY_FALLBACK equals INNGEST_SIGNING_KEY",
                    "set the fallback to the previous key during a rotation, or unset it",
                )
            )
        elif fallback:
            checks.append(
                Check(
                    "ok",
                    "inngest.signing_key",
                    "fallback key set (rotation in progress: unset it once Inngest uses the new key)",
                )
            )
    event_key = config.inngest_event_key or ""
    if event_key and not re.fullmatch(r"[A-Za-z0-9_\-]{16,}", event_key):
        checks.append(
            Check(
                "warn",
                "inngest.event_key",
                "INNGEST_EVENT_KEY does not look like an Inngest event key",
                FIXES["INNGEST_EVENT_KEY"],
            )
        )
    elif event_key:
        checks.append(
            Check(
                "ok",
                "inngest.event_key",
                "well-formed (not sent to Inngest: doctor sends no events)",
            )
        )
    checks.append(_public_url_check(config))
    missing = config.missing("inngest_signing_key", "inngest_event_key")
    if missing:  # never "ok": without both keys nothing is served or sent, whatever answers
        where = config.inngest_api_origin or "Inngest Cloud"
        checks.append(
            Check(
                "fail",
                "inngest.server",
                f"cloud mode ({where}), but {' and '.join(missing)} unset: the SDK can neither "
                "serve /api/inngest nor send events",
                FIXES[missing[0]],
            )
        )
    elif config.inngest_api_origin:
        checks.append(_server_check(config.inngest_api_origin, timeout))
    else:
        checks.append(
            Check(
                "ok",
                "inngest.server",
                "Inngest Cloud; prove the signing key with `flask --app app inngest sync`",
            )
        )
    return checks


def _key_parts(key: str) -> tuple[str, str]:
    """(environment, hex digits) of ``signkey-<env>-<hex>``."""
    match = re.fullmatch(r"signkey-([a-z]+)-([0-9a-fA-F]*)", key)
    return (match.group(1), match.group(2)) if match else ("?", "")


def _public_url_check(config: Config) -> Check:
    url = config.public_url
    if not url:
        return Check(
            "fail",
            "public_url",
            "PUBLIC_URL unset: Inngest cannot be told where /api/inngest is",
            FIXES["PUBLIC_URL"],
        )
    host = urlsplit(url).hostname or ""
    if not url.startswith("https://") and host not in ("localhost", "127.0.0.1"):
        return Check(
            "warn",
            "public_url",
            f"{url} is not https: Slack requires https request URLs",
            FIXES["PUBLIC_URL"],
        )
    return Check("ok", "public_url", f"{url} (serve path {url}{SERVE_PATH})")


def _get(url: str, timeout: float) -> httpx.Response:
    return httpx.get(url, timeout=timeout)


def _dev_server_check(config: Config, timeout: float) -> Check:
    origin = config.inngest_api_origin or DEV_SERVER_URL
    serve_url = f"http://127.0.0.1:{config.port}{SERVE_PATH}"
    fix = (
        f"start the dev server: npx inngest-cli@latest dev -u {serve_url} "
        "(`make run` tries this and logs to var/inngest-dev.log), or set INNGEST_DEV / "
        "INNGEST_BASE_URL to its URL"
    )
    try:
        response = _get(f"{origin}/dev", timeout)
    except httpx.HTTPError as exc:
        return Check(
            "fail", "inngest", f"dev server at {origin} does not answer: {error_text(exc)}", fix
        )
    if response.status_code != 200:
        return Check("fail", "inngest", f"{origin}/dev answered HTTP {response.status_code}", fix)
    try:
        body = response.json()
    except ValueError:
        body = None
    functions = body.get("functions") if isinstance(body, dict) else None
    if not isinstance(functions, list):
        return Check("ok", "inngest", f"dev server answers at {origin}")
    prefix = f"{APP_ID}-"
    ours = [
        f
        for f in functions
        if isinstance(f, dict) and str(f.get("id") or f.get("slug") or "").startswith(prefix)
    ]
    if not ours:
        return Check(
            "warn",
            "inngest",
            f"dev server answers at {origin} but lists none of our functions",
            "run `flask --app app inngest sync` (or start the dev server with "
            f"-u {serve_url} so it finds them)",
        )
    handlers = [f for f in ours if str(f.get("id") or f.get("slug") or "").endswith("-failure")]
    return Check(
        "ok",
        "inngest",
        f"dev server answers at {origin}; {len(ours) - len(handlers)} of our functions registered"
        f" (+{len(handlers)} failure handlers)",
    )


def _server_check(origin: str, timeout: float) -> Check:
    try:
        response = _get(f"{origin}/health", timeout)
    except httpx.HTTPError as exc:
        return Check(
            "fail",
            "inngest.server",
            f"self-hosted Inngest at {origin} does not answer: {error_text(exc)}",
            "check INNGEST_BASE_URL (or INNGEST_API_BASE_URL) and that the server runs",
        )
    return Check(
        "ok" if response.status_code < 500 else "fail",
        "inngest.server",
        f"self-hosted Inngest at {origin} answers (HTTP {response.status_code})",
        None if response.status_code < 500 else "check the Inngest server's logs",
    )
