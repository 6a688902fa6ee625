"""The README's configuration table is generated from support/config.py and must not drift."""

from __future__ import annotations

import re
from pathlib import Path

from support.config import SETTINGS, markdown_table

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_config_table_matches_settings() -> None:
    text = README.read_text()
    match = re.search(r"<!-- config-table:start -->\n(.*?)\n<!-- config-table:end -->", text, re.S)
    assert match, "README.md lost its config-table markers"
    assert match.group(1) == markdown_table(), (
        "README configuration table is stale: regenerate it with `make docs`"
    )
    for setting in SETTINGS:
        assert f"`{setting.env}`" in match.group(1)


def test_readme_shows_the_two_commands() -> None:
    text = README.read_text()
    assert "make run" in text and "make test" in text


ROOT = README.parent


def test_env_example_lists_every_setting_and_loads() -> None:
    from dotenv import dotenv_values

    from support.config import env_example, load

    path = ROOT / ".env.example"
    assert path.read_text() == env_example(), (
        ".env.example is stale: regenerate it with `make docs`"
    )
    text = path.read_text()
    for setting in SETTINGS:
        assert re.search(rf"^(# )?{setting.env}=", text, re.M), f"{setting.env} missing"
    values = {k: v or "" for k, v in dotenv_values(path).items()}
    cfg = load(values)  # a copied .env.example is a valid dev-mode configuration
    assert cfg.is_dev and cfg.slack_bot_token is None


def test_readme_lists_every_make_target() -> None:
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, re.M))
    text = README.read_text()
    for target in targets:
        assert f"`make {target}`" in text, f"README does not list `make {target}`"


def test_readme_names_no_path_outside_the_repository() -> None:
    assert "../shared" not in README.read_text() and "/work/" not in README.read_text()


def test_flaskenv_and_dotenv_are_read_by_the_flask_command(tmp_path: Path) -> None:
    """`flask doctor` without --app (.flaskenv) sees the mode written to .env (as `make run` does)."""
    import os
    import shutil
    import subprocess
    import sys

    shutil.copy(ROOT / ".flaskenv", tmp_path / ".flaskenv")
    (tmp_path / ".env").write_text(
        f"INNGEST_DEV=1\nPORT=3999\nDATABASE_URL=sqlite:///{tmp_path}/x.db\n"
        "INNGEST_BASE_URL=http://127.0.0.1:9\n"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("INNGEST_", "SLACK_", "FRONT_", "FLASK_", "DATABASE_", "PORT"))
    }
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(
        [sys.executable, "-m", "flask", "doctor"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "No such command" not in result.stderr, result.stderr
    assert "mode dev (INNGEST_DEV)" in result.stdout, result.stdout + result.stderr
    assert "-u http://127.0.0.1:3999/api/inngest" in result.stdout
