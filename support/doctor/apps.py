"""``apps``: at least one app is registered; each inbox id and integration URL is well-formed."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from support.doctor.database import AppRow
from support.doctor.report import Check

INBOX_ID = re.compile(r"^inb_[A-Za-z0-9]+$")


def app_checks(apps: list[AppRow] | None) -> list[Check]:
    if apps is None:
        return [Check("warn", "apps", "skipped: the database is not ready (see above)")]
    add = (
        "flask --app app apps add --slug acme --name Acme --front-inbox inb_... "
        "--integration-url https://acme.example.com --integration-secret ... "
        "(inbox ids: docs/setup-front.md)"
    )
    if not apps:
        return [
            Check(
                "fail",
                "apps",
                "no app registered: every Front webhook is ignored (unknown inbox)",
                add,
            )
        ]
    checks = [Check("ok", "apps", f"{len(apps)} registered: {', '.join(a.slug for a in apps)}")]
    for a in apps:
        name = f"apps.{a.slug}"
        parts = urlsplit(a.integration_base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            checks.append(
                Check(
                    "fail",
                    name,
                    f"integration URL {a.integration_base_url!r} is not an http(s) URL",
                    f"flask --app app apps update {a.slug} --integration-url https://... "
                    f"then `flask --app app apps check {a.slug}`",
                )
            )
        elif parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1"):
            checks.append(
                Check(
                    "warn",
                    name,
                    f"integration URL {a.integration_base_url} is plain http: signed calls and "
                    "customer data travel unencrypted",
                    "serve the app's integration API over https",
                )
            )
        if not INBOX_ID.match(a.front_inbox_id):
            checks.append(
                Check(
                    "fail",
                    name,
                    f"Front inbox id {a.front_inbox_id!r} is not like inb_...",
                    "find the inbox id with GET /inboxes (docs/setup-front.md), then "
                    f"flask --app app apps update {a.slug} --front-inbox inb_...",
                )
            )
    return checks
