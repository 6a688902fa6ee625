"""The Flask app factory: wires the three doors, health checks and CLI commands; nothing else.

``app`` at module level is what gunicorn serves (``gunicorn app:app``). Building it validates the
configuration and opens no socket and no file: the database engine and the Slack app are built on
first use.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import inngest.flask
from flask import Flask

from support import config as config_module
from support import db, error_reporting, inngest_client, metrics
from support.config import Config
from support.logs import configure_logging

log = logging.getLogger("support.app")


def create_app(settings: Config | Mapping[str, str] | None = None) -> Flask:
    """Build the app. ``settings``: a ``Config``, an environment-like mapping, or None (os.environ)."""
    config = settings if isinstance(settings, Config) else config_module.load(settings)
    configure_logging(config.log_level, config.log_format)
    error_reporting.init(config)
    metrics.configure(config)

    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    app.extensions["support.config"] = config
    config_module.set_current(config)
    db.configure(config.database_url)
    client = inngest_client.configure(config)

    from slack import door as slack_door
    from support.web import errors, front_door, health, inngest_guard
    from support.web import metrics as metrics_door
    from support.workflows import FUNCTIONS

    errors.init_app(app)
    inngest_guard.init_app(app, config)
    app.register_blueprint(health.bp)
    app.register_blueprint(front_door.bp)
    app.register_blueprint(slack_door.bp)
    app.register_blueprint(metrics_door.bp)
    inngest.flask.serve(app, client, FUNCTIONS, serve_origin=config.public_url)

    from support import cli

    cli.init_app(app)
    _warn_about_gaps(config)
    return app


def _warn_about_gaps(config: Config) -> None:
    missing = config.missing(
        "slack_bot_token",
        "slack_signing_secret",
        "front_api_token",
        "front_webhook_secret",
        "anthropic_api_key",
    )
    if missing:
        log.warning(
            "config.incomplete missing=%s (run `flask --app app doctor`)", ",".join(missing)
        )
    if config.slack_signing_secret and not config.slack_approver_ids:
        log.warning(
            "config.approvers_unrestricted SLACK_APPROVER_IDS is empty: ANYONE in the approval "
            "channel can approve refunds and transfers"
        )


def doctor_only_app() -> Flask:
    """An app carrying only ``doctor``, for a configuration that does not load: doctor reads the
    environment itself and reports each problem as a failed check, with its fix."""
    from support import cli

    app = Flask(__name__, static_folder=None)
    app.cli.add_command(cli.doctor_command)
    return app


def is_doctor_command(argv: Sequence[str]) -> bool:
    """``flask ... doctor`` (or ``python -m flask ... doctor``); never gunicorn."""
    if len(argv) < 2:
        return False
    program = Path(argv[0])
    return "flask" in (program.stem, program.parent.name) and "doctor" in argv[1:]


def _app_from_environment() -> Flask:
    try:
        return create_app()
    except config_module.ConfigError as exc:
        if is_doctor_command(sys.argv):
            return doctor_only_app()
        raise SystemExit(str(exc)) from None


app: Any = _app_from_environment()
