"""``flask --app app doctor``: is this install ready? One line per check, and the fix when it fails.

What is checked, in order (each with the variable or screen to fix it):

* ``config``      every variable parses; in cloud mode the Inngest keys are present. When the
                  configuration does not load at all (``ConfigError``), each problem is one failed
                  check and the other checks still run with the settings that did parse.
* ``database``    ``SELECT 1`` and the Alembic revision equals the code's head.
* ``slack.*``     signing secret set; ``auth.test`` accepts the bot token; the token's workspace
                  equals ``SLACK_TEAM_ID``; an approval channel exists; approvers are restricted.
* ``front.*``     ``GET /me`` accepts the API token; the webhook (app) secret is set.
* ``anthropic``   ``GET /v1/models/{ANTHROPIC_MODEL}``: the key works and the model exists (no
                  tokens are spent).
* ``inngest``     dev mode: the dev server answers ``GET /dev`` (and lists our functions); cloud
                  mode: keys well-formed, ``PUBLIC_URL`` set, a self-hosted server answers. No event
                  is ever sent.
* ``apps``        at least one app is registered; each app's inbox id and integration URL are
                  well-formed.
* ``metrics``     ``METRICS_TOKEN`` set (warn when unset: no ``/metrics``) and at least 16
                  characters; ``metrics.multiprocess``: ``PROMETHEUS_MULTIPROC_DIR`` set when
                  ``WEB_CONCURRENCY`` > 1 and metrics are on. ``logs``: ``LOG_FORMAT``/``LOG_LEVEL``.
                  ``sentry``: ``SENTRY_DSN`` parses as a DSN (sentry-sdk's own parser).
                  ``slack.alert_channel``: ``SLACK_ALERT_CHANNEL`` looks like a channel id.

A missing credential is a failure (the install cannot work without it), not a skip. Secrets are
never printed: details are built from non-secret facts, and ``Report.render`` also masks every
secret value it knows in case an upstream error message echoes one.

One module per service (``support/doctor/slack.py``, ...); the fix of a setting is declared once,
on its ``Setting`` in ``support/config/settings.py``. This package imports neither Flask nor anything that
builds the app; ``anthropic`` is imported only inside its check (it costs about a second).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from support import config as config_module
from support.config import Config
from support.doctor.anthropic import anthropic_checks
from support.doctor.apps import app_checks
from support.doctor.database import AppRow, database_checks
from support.doctor.front import front_checks
from support.doctor.inngest import inngest_checks
from support.doctor.observability import observability_checks
from support.doctor.report import FIXES, TIMEOUT_SECONDS, Check, Report, mask
from support.doctor.settings import config_checks, secrets_of
from support.doctor.slack import slack_checks

__all__ = [
    "FIXES",
    "AppRow",
    "Check",
    "Report",
    "database_checks",
    "mask",
    "run",
]


def run(
    config: Config | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    timeout: float = TIMEOUT_SECONDS,
) -> Report:
    """Every check. ``config`` None: load from ``environ`` (default ``os.environ``) leniently."""
    env = os.environ if environ is None else environ
    if config is None:
        config = config_module.load(env, lenient=True)
        secrets = secrets_of(config, env)
    else:
        secrets = secrets_of(config)
    checks = config_checks(config, list(config.problems))
    db_checks, apps = database_checks(config)
    checks += db_checks
    secrets += [a.integration_secret for a in apps or []]
    checks += slack_checks(config, apps, timeout)
    checks += front_checks(config, timeout)
    checks += anthropic_checks(config, timeout)
    checks += inngest_checks(config, timeout)
    checks += app_checks(apps)
    checks += observability_checks(config, env)
    return Report(checks, secrets)
