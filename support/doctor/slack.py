"""``slack.*``: signing secret, ``auth.test`` with the bot token, the workspace, channel, approvers."""

from __future__ import annotations

import re
from urllib.error import URLError

from support.config import Config
from support.doctor.database import AppRow
from support.doctor.report import FIXES, Check, Status, error_text, set_or_fail

SLACK_TOKEN_ERRORS = ("invalid_auth", "not_authed", "token_revoked", "account_inactive")
# Slack tokens: xoxb- (bot), xoxp- (user), ... then dash-separated alphanumerics.
SLACK_TOKEN = re.compile(r"xox[a-z]-[A-Za-z0-9]+(?:-[A-Za-z0-9]+)+")
CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{2,}")


def slack_checks(config: Config, apps: list[AppRow] | None, timeout: float) -> list[Check]:
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError, SlackClientError

    checks = [
        set_or_fail(
            "slack.signing_secret",
            "SLACK_SIGNING_SECRET",
            config.slack_signing_secret,
            "/slack/events answers 503",
        )
    ]

    team_id: str | None = None
    token = config.slack_bot_token
    if not token:
        checks.append(
            Check("fail", "slack.auth", "SLACK_BOT_TOKEN unset", FIXES["SLACK_BOT_TOKEN"])
        )
    elif not SLACK_TOKEN.fullmatch(token):
        checks.append(
            Check(
                "fail",
                "slack.auth",
                "SLACK_BOT_TOKEN is malformed (a bot token looks like xoxb-<digits>-<digits>-"
                "<letters and digits>); not sent to Slack",
                FIXES["SLACK_BOT_TOKEN"],
            )
        )
    else:
        client = WebClient(token=token, base_url=config.slack_api_base_url, timeout=int(timeout))
        try:
            answer = client.auth_test()
        except SlackApiError as exc:
            error = str(exc.response.get("error") if exc.response is not None else exc)
            status = exc.response.status_code if exc.response is not None else "?"
            fix = FIXES["SLACK_BOT_TOKEN"]
            if error not in SLACK_TOKEN_ERRORS:
                fix = "see https://api.slack.com/methods/auth.test for this error; " + fix
            checks.append(
                Check(
                    "fail",
                    "slack.auth",
                    f"auth.test refused the token: {error} (HTTP {status})",
                    fix,
                )
            )
        except (SlackClientError, URLError, OSError, ValueError) as exc:
            checks.append(
                Check(
                    "fail",
                    "slack.auth",
                    f"cannot reach {config.slack_api_base_url}: {error_text(exc)}",
                    "check outbound network to Slack, and SLACK_API_BASE_URL (unset = default)",
                )
            )
        else:
            team_id = str(answer.get("team_id") or "") or None
            who = f"bot @{answer.get('user')} ({answer.get('user_id')})"
            checks.append(
                Check(
                    "ok", "slack.auth", f"auth.test ok: {who} in {answer.get('team')} ({team_id})"
                )
            )
            if not token.startswith("xoxb-"):
                checks.append(
                    Check(
                        "warn",
                        "slack.auth",
                        "SLACK_BOT_TOKEN is not a bot token (xoxb-...)",
                        FIXES["SLACK_BOT_TOKEN"],
                    )
                )

    if config.slack_team_id and team_id and config.slack_team_id != team_id:
        checks.append(
            Check(
                "fail",
                "slack.team",
                f"SLACK_TEAM_ID={config.slack_team_id} but the bot token belongs to {team_id}: "
                "every click would be refused",
                f"set SLACK_TEAM_ID={team_id}, or use the bot token of workspace "
                f"{config.slack_team_id}",
            )
        )
    elif config.slack_team_id:
        checks.append(Check("ok", "slack.team", f"SLACK_TEAM_ID={config.slack_team_id}"))
    else:
        checks.append(
            Check(
                "warn",
                "slack.team",
                "SLACK_TEAM_ID unset: clicks are not checked against a workspace",
                f"set SLACK_TEAM_ID={team_id}" if team_id else FIXES["SLACK_TEAM_ID"],
            )
        )

    checks.append(_channel_check(config, apps))
    if config.slack_approver_ids:
        checks.append(
            Check("ok", "slack.approvers", f"{len(config.slack_approver_ids)} approver(s)")
        )
    else:
        checks.append(
            Check(
                "warn",
                "slack.approvers",
                "SLACK_APPROVER_IDS empty: ANYONE in the approval channel can approve refunds",
                FIXES["SLACK_APPROVER_IDS"],
            )
        )
    return checks


def channel_check(name: str, env: str, channel: str, malformed: Status) -> Check:
    """A channel setting that is set: ok when it looks like a channel id, else ``malformed``."""
    if not CHANNEL_ID.fullmatch(channel):
        return Check(
            malformed, name, f"{env}={channel} does not look like a channel id (C...)", FIXES[env]
        )
    return Check("ok", name, f"{channel} (the bot must be a member: /invite it there)")


def _channel_check(config: Config, apps: list[AppRow] | None) -> Check:
    channel = config.slack_approval_channel
    if channel:
        return channel_check("slack.channel", "SLACK_APPROVAL_CHANNEL", channel, "warn")
    without = [a.slug for a in apps or [] if not a.slack_channel]
    if apps and not without:
        return Check("ok", "slack.channel", "unset, but every app has its own channel")
    return Check(
        "fail",
        "slack.channel",
        "SLACK_APPROVAL_CHANNEL unset"
        + (f" and apps without a channel: {', '.join(without)}" if without else "")
        + ": approval requests cannot be posted",
        FIXES["SLACK_APPROVAL_CHANNEL"],
    )
