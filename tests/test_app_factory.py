"""The app factory: importing opens no socket, doors are wired, CLI commands work."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app import create_app
from support.config import ConfigError
from tests.apps_cli import apps_add_args

ROOT = Path(__file__).resolve().parents[1]

NO_SOCKETS = """
import socket
def refuse(*args, **kwargs):
    raise AssertionError("socket connect at import time: %r" % (args,))
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse
import app
assert app.app.url_map is not None
print("imported", sorted(r.rule for r in app.app.url_map.iter_rules()))
"""


def test_import_app_opens_no_socket_and_no_file(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INNGEST_", "DATABASE_"))}
    env["INNGEST_DEV"] = "1"
    result = subprocess.run(
        [sys.executable, "-c", NO_SOCKETS],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    for route in ("/api/inngest", "/slack/events", "/webhooks/front", "/healthz", "/readyz"):
        assert f"'{route}'" in result.stdout
    assert not (tmp_path / "var").exists(), "the SQLite file must not be created at import"


def test_cloud_mode_without_keys_refuses_to_start() -> None:
    with pytest.raises(ConfigError, match="INNGEST_SIGNING_KEY"):
        create_app({})


def test_plain_app_is_not_in_testing_mode(tmp_path: Path) -> None:
    app = create_app({"INNGEST_DEV": "1", "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})
    assert not app.testing


def test_cli_db_upgrade_and_apps(tmp_path: Path) -> None:
    app = create_app({"INNGEST_DEV": "1", "DATABASE_URL": f"sqlite:///{tmp_path}/cli.db"})
    runner = app.test_cli_runner()
    assert "database at head" in runner.invoke(args=["db", "upgrade"]).output
    assert "no apps registered" in runner.invoke(args=["apps", "list"]).output
    add = apps_add_args(
        **{"--integration-url": "http://127.0.0.1:9/", "--integration-secret": "x" * 20}
    )
    result = runner.invoke(args=add)
    assert result.exit_code == 0 and "added app acme" in result.output
    again = runner.invoke(args=add)
    assert again.exit_code != 0 and "already exists" in again.output
    bad = runner.invoke(args=[("inbox-without-prefix" if a == "inb_acme" else a) for a in add])
    assert bad.exit_code != 0 and "front inbox id" in bad.output
    listed = runner.invoke(args=["apps", "list"]).output
    assert "acme" in listed and "inb_acme" in listed and "x" * 20 not in listed
