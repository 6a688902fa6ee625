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
