"""``metrics``, ``logs``, ``sentry``, ``slack.alert_channel``: the observability settings
(docs/observability.md) are usable as set. A malformed ``LOG_FORMAT``/``SENTRY_DSN`` is also a
``config`` problem (their parsers refuse it); here it fails the check of its own concern."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from support.config import Config
from support.doctor.report import FIXES, Check
from support.doctor.slack import channel_check

METRICS_TOKEN_MIN_LENGTH = 16


def observability_checks(config: Config, environ: Mapping[str, str]) -> list[Check]:
    return [
        _metrics_token_check(config),
        _multiprocess_check(config, environ),
        _logs_check(config),
        _sentry_check(config),
        _alert_channel_check(config),
    ]


def _metrics_token_check(config: Config) -> Check:
    token = config.metrics_token
    if not token:
        return Check(
            "warn", "metrics", "METRICS_TOKEN unset: no /metrics (404)", FIXES["METRICS_TOKEN"]
        )
    if len(token) < METRICS_TOKEN_MIN_LENGTH:
        return Check(
            "fail",
            "metrics",
            f"METRICS_TOKEN is {len(token)} characters, fewer than {METRICS_TOKEN_MIN_LENGTH}: "
            "too easy to guess for a bearer token",
            FIXES["METRICS_TOKEN"],
        )
    return Check("ok", "metrics", "METRICS_TOKEN set: GET /metrics answers with the bearer token")


def _workers(environ: Mapping[str, str]) -> int:
    """gunicorn's worker count as ``support.metrics`` reads it (unset or malformed: 1)."""
    try:
        return int(environ.get("WEB_CONCURRENCY", "1"))
    except ValueError:
        return 1


def _multiprocess_check(config: Config, environ: Mapping[str, str]) -> Check:
    workers = _workers(environ)
    directory = config.prometheus_multiproc_dir
    if directory:
        return Check("ok", "metrics.multiprocess", f"PROMETHEUS_MULTIPROC_DIR={directory}")
    if config.metrics_token and workers > 1:
        return Check(
            "fail",
            "metrics.multiprocess",
            f"WEB_CONCURRENCY={workers} without PROMETHEUS_MULTIPROC_DIR: each scrape sees one "
            "worker's counts only",
            FIXES["PROMETHEUS_MULTIPROC_DIR"],
        )
    reason = "no /metrics" if not config.metrics_token else "one worker"
    return Check("ok", "metrics.multiprocess", f"PROMETHEUS_MULTIPROC_DIR not needed ({reason})")


def _logs_check(config: Config) -> Check:
    for env in ("LOG_FORMAT", "LOG_LEVEL"):
        malformed = [p for p in config.problems if p.startswith(f"{env}=")]
        if malformed:
            return Check("fail", "logs", malformed[0], FIXES[env])
    return Check("ok", "logs", f"LOG_FORMAT={config.log_format}, LOG_LEVEL={config.log_level}")


def _sentry_check(config: Config) -> Check:
    malformed = [p for p in config.problems if p.startswith("SENTRY_DSN=")]
    if malformed:
        return Check("fail", "sentry", malformed[0], FIXES["SENTRY_DSN"])
    if not config.sentry_dsn:
        return Check("ok", "sentry", "SENTRY_DSN unset: error reporting off")
    parts = urlsplit(config.sentry_dsn)
    project = parts.path.rsplit("/", 1)[-1]
    return Check("ok", "sentry", f"reporting to {parts.hostname}, project {project}")


def _alert_channel_check(config: Config) -> Check:
    channel = config.slack_alert_channel
    if not channel:
        return Check(
            "ok", "slack.alert_channel", "unset: failure alerts go to SLACK_APPROVAL_CHANNEL"
        )
    return channel_check("slack.alert_channel", "SLACK_ALERT_CHANNEL", channel, "fail")
