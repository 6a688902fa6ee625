"""The operator docs name only real commands, variables, files, functions and step ids."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app import create_app
from support.config import SETTINGS

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]
PREFIXES = (
    "SLACK_",
    "FRONT_",
    "INNGEST_",
    "ANTHROPIC_",
    "DATABASE_",
    "PUBLIC_",
    "APPROVAL_",
    "AGENT_",
)


def test_the_operator_docs_exist() -> None:
    names = {p.name for p in DOCS}
    assert {"runbook.md", "setup-slack.md", "setup-front.md", "setup-inngest.md"} <= names


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_flask_command_exists(doc: Path, tmp_path: Path) -> None:
    app = create_app({"INNGEST_DEV": "1", "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})
    commands = app.cli.list_commands(None)  # type: ignore[arg-type]
    groups = {name: app.cli.get_command(None, name) for name in commands}  # type: ignore[arg-type]
    for group, sub in re.findall(r"flask --app app ([a-z-]+)(?: ([a-z-]+))?", doc.read_text()):
        assert group in groups, f"{doc.name}: `flask --app app {group}` does not exist"
        command = groups[group]
        if sub and hasattr(command, "commands"):
            assert sub in command.commands, (
                f"{doc.name}: `flask --app app {group} {sub}` does not exist"
            )


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_variable_is_a_setting(doc: Path) -> None:
    known = {s.env for s in SETTINGS}
    for name in set(re.findall(r"\b[A-Z][A-Z0-9_]+\b", doc.read_text())):
        if name.startswith(PREFIXES) and name not in ("SLACK_TOKEN",):
            assert name in known, (
                f"{doc.name} names {name}, which support/config.py does not define"
            )


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_relative_links_and_repository_paths_exist(doc: Path) -> None:
    text = doc.read_text()
    for target in re.findall(r"\]\(([^)#:]+)\)", text):
        assert (doc.parent / target).exists(), f"{doc.name} links to missing {target}"
    for path in re.findall(r"`((?:docs|slack|support|tests)/[\w./-]+\.(?:md|py|yml))`", text):
        assert (ROOT / path).exists(), f"{doc.name} names missing file {path}"


def test_inngest_doc_lists_the_real_functions_and_step_ids() -> None:
    from support.workflows import FUNCTIONS

    text = (ROOT / "docs" / "setup-inngest.md").read_text()
    listed = set(re.findall(r"`(support-agent-[a-z-]+)`", text))
    served = {
        f"support-agent-{fn.id}" if not fn.id.startswith("support-agent-") else fn.id
        for fn in FUNCTIONS
    }
    assert listed == served
    source = (ROOT / "support" / "workflows" / "request_approval.py").read_text()
    section = text.split("Never change the step ids", 1)[1].split("Replays match", 1)[0]
    for step in re.findall(r"`([a-z]+(?:-[a-z]+)+)`", section):
        assert f'"{step}"' in source, f"step id {step} is not in request_approval.py"
