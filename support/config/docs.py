"""The README's configuration table and ``.env.example``, generated from ``SETTINGS`` (``make docs``;
``tests/test_docs.py`` fails when the committed files drift)."""

from __future__ import annotations

from support.config.settings import SETTINGS


def markdown_table() -> str:
    """The README's configuration table, generated from ``SETTINGS``."""
    lines = ["| variable | default | secret | meaning |", "|---|---|---|---|"]
    for s in SETTINGS:
        default = f"`{s.default}`" if s.default not in (None, "") else ""
        if s.required_in_cloud:
            default = "required in cloud mode"
        lines.append(f"| `{s.env}` | {default} | {'yes' if s.secret else ''} | {s.help} |")
    return "\n".join(lines)


ENV_EXAMPLE_HEADER = """\
# support-agent settings for local work: copy to .env and fill in what you have.
# Every `flask` command reads .env (Flask's python-dotenv loading; variables already set in the
# shell win), and `make run` writes INNGEST_DEV and PORT into it. Never commit .env.
# An empty value means unset. Commented lines show the default.
# Generated from support/config/settings.py by `make docs`; tests/test_docs.py fails when it drifts.
"""


def env_example() -> str:
    """The text of ``.env.example``: every setting, grouped, with its help and default."""
    out = [ENV_EXAMPLE_HEADER]
    group = ""
    for s in SETTINGS:
        if s.group != group:
            group = s.group
            out.append(f"\n# --- {group} ---\n")
        help_text = s.help.replace("`", "")
        if s.required_in_cloud:
            help_text += " Required in Inngest Cloud mode."
        out.append(f"# {help_text}\n")
        if s.env == "INNGEST_DEV":
            out.append("INNGEST_DEV=1\n")
        elif s.default not in (None, ""):
            out.append(f"# {s.env}={s.default}\n")
        else:
            out.append(f"{s.env}=\n")
    return "".join(out)
