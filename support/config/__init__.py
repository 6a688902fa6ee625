"""Every setting of the service, read from the environment and validated once.

This package is the single source of truth for configuration, one concern per module:

* ``settings.py``: ``Setting`` and ``SETTINGS``, the one declaration of each variable (default,
  parser, help, fix text);
* ``parsers.py``: the parsers those declarations use;
* ``loader.py``: ``Config`` (one typed field per setting) and ``load``;
* ``docs.py``: the README's configuration table and ``.env.example``, generated from ``SETTINGS``
  (``make docs``; ``python -m support.config`` prints the table) — a test fails when they drift.

Rules:

* Nothing is read at import time; ``load()`` reads ``os.environ`` (or a mapping given by tests) and
  raises one ``ConfigError`` naming every missing or malformed variable.
* Production (Inngest cloud) mode unless ``INNGEST_DEV`` is set. Cloud mode requires the Inngest keys,
  because the SDK cannot serve or send without them.
* The other secrets are optional at start-up so that a partial install still serves ``/healthz``: the
  door that needs a missing secret answers 503 with the variable's name, and ``flask doctor`` lists it.

Everything is imported from here: ``from support.config import Config, SETTINGS, load, current``.
"""

from __future__ import annotations

from support.config.docs import ENV_EXAMPLE_HEADER, env_example, markdown_table
from support.config.loader import Config, ConfigError, load
from support.config.settings import SETTINGS, Setting

__all__ = [
    "ENV_EXAMPLE_HEADER",
    "SETTINGS",
    "Config",
    "ConfigError",
    "Setting",
    "current",
    "env_example",
    "load",
    "markdown_table",
    "set_current",
]

_current: Config | None = None


def set_current(config: Config) -> None:
    """Called by ``create_app``: the settings workflows and listeners read through ``current()``."""
    global _current
    _current = config


def current() -> Config:
    """The running service's settings (workflows run in the Flask process but never import Flask)."""
    if _current is None:
        raise RuntimeError("configuration not loaded: create_app() has not run")
    return _current
