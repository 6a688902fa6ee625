"""Bolt listeners (filled in by the approvals work)."""

from __future__ import annotations

from slack_bolt import App

from support.config import Config


def register(app: App, config: Config) -> None:
    """Attach every listener to ``app``."""
