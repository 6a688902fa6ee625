"""``front.*``: ``GET /me`` accepts the API token; the webhook (app) secret is set."""

from __future__ import annotations

import httpx

from support.config import Config
from support.doctor.report import FIXES, Check, error_text, json_field, set_or_fail


def front_checks(config: Config, timeout: float) -> list[Check]:
    checks: list[Check] = []
    token = config.front_api_token
    if not token:
        checks.append(
            Check("fail", "front.token", "FRONT_API_TOKEN unset", FIXES["FRONT_API_TOKEN"])
        )
    else:
        url = f"{config.front_api_base_url}/me"
        try:
            response = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout)
        except httpx.HTTPError as exc:
            checks.append(
                Check(
                    "fail",
                    "front.token",
                    f"cannot reach {config.front_api_base_url}: {error_text(exc)}",
                    "check outbound network to Front, and FRONT_API_BASE_URL (unset = default)",
                )
            )
        else:
            if response.status_code == 200:
                name = json_field(response, "name")
                checks.append(
                    Check("ok", "front.token", "GET /me ok" + (f": company {name}" if name else ""))
                )
            elif response.status_code in (401, 403):
                checks.append(
                    Check(
                        "fail",
                        "front.token",
                        f"GET /me refused the token (HTTP {response.status_code})",
                        FIXES["FRONT_API_TOKEN"],
                    )
                )
            else:
                checks.append(
                    Check(
                        "fail",
                        "front.token",
                        f"GET /me answered HTTP {response.status_code}",
                        "check FRONT_API_BASE_URL and Front's status page (status.front.com)",
                    )
                )
    checks.append(
        set_or_fail(
            "front.webhook_secret",
            "FRONT_WEBHOOK_SECRET",
            config.front_webhook_secret,
            "/webhooks/front answers 503",
        )
    )
    return checks
