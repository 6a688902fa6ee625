"""Configuration: defaults, one error naming every bad variable, secrets never shown."""

from __future__ import annotations

import pytest

from support import config


def test_dev_mode_needs_nothing_else() -> None:
    cfg = config.load({"INNGEST_DEV": "1"})
    assert cfg.is_dev
    assert cfg.database_url.startswith("sqlite:///") and cfg.database_url.endswith(
        "var/support-agent.db"
    )
    assert cfg.slack_api_base_url == "https://slack.com/api/"
    assert cfg.front_api_base_url == "https://api2.frontapp.com"
    assert cfg.slack_approver_ids == ()


def test_cloud_mode_requires_inngest_keys_and_names_each() -> None:
    with pytest.raises(config.ConfigError) as err:
        config.load({})
    text = str(err.value)
    assert "INNGEST_EVENT_KEY" in text and "INNGEST_SIGNING_KEY" in text
    assert len(err.value.problems) == 2


def test_every_malformed_variable_is_named_at_once() -> None:
    with pytest.raises(config.ConfigError) as err:
        config.load(
            {
                "INNGEST_DEV": "1",
                "DATABASE_URL": "postgres://x",
                "SLACK_API_BASE_URL": "not a url",
                "SLACK_APPROVER_IDS": "U123ABC,bob",
                "APPROVAL_TIMEOUT_HOURS": "-1",
                "INNGEST_SIGNING_KEY": "hunter2-secret",
            }
        )
    names = [p.split("=")[0] for p in err.value.problems]
    assert names == [
        "DATABASE_URL",
        "SLACK_API_BASE_URL",
        "SLACK_APPROVER_IDS",
        "APPROVAL_TIMEOUT_HOURS",
        "INNGEST_SIGNING_KEY",
    ]
    assert "hunter2" not in str(err.value)


def test_urls_are_normalised() -> None:
    cfg = config.load(
        {
            "INNGEST_DEV": "1",
            "SLACK_API_BASE_URL": "http://127.0.0.1:9/api",
            "FRONT_API_BASE_URL": "http://127.0.0.1:9/",
            "DATABASE_URL": "mysql://root@127.0.0.1/test",
            "SLACK_APPROVER_IDS": " U0AAA , U0BBB,",
        }
    )
    assert cfg.slack_api_base_url == "http://127.0.0.1:9/api/"
    assert cfg.front_api_base_url == "http://127.0.0.1:9"
    assert cfg.database_url == "mysql+pymysql://root@127.0.0.1/test"
    assert cfg.slack_approver_ids == ("U0AAA", "U0BBB")


def test_redacted_hides_secrets() -> None:
    cfg = config.load({"INNGEST_DEV": "1", "SLACK_BOT_TOKEN": "xoxb-very-secret"})
    shown = cfg.redacted()
    assert shown["SLACK_BOT_TOKEN"] == "set"
    assert shown["FRONT_API_TOKEN"] == "unset"
    assert "xoxb-very-secret" not in repr(shown)


def test_inngest_dev_url_points_both_origins() -> None:
    cfg = config.load({"INNGEST_DEV": "http://127.0.0.1:8288"})
    assert cfg.is_dev
    assert cfg.inngest_api_origin == "http://127.0.0.1:8288"
    assert cfg.inngest_event_origin == "http://127.0.0.1:8288"


def test_each_setting_is_declared_once_with_its_fix() -> None:
    """``Config`` has exactly one field per ``Setting`` and no defaults of its own; every setting
    says how to fix it (``doctor`` prints that text)."""
    import dataclasses

    fields = {f.name: f for f in dataclasses.fields(config.Config)}
    attrs = [s.attr for s in config.SETTINGS]
    assert len(attrs) == len(set(attrs)), "a setting is declared twice"
    assert set(fields) - {"extra", "problems"} == set(attrs)
    for attr in attrs:
        assert fields[attr].default is dataclasses.MISSING, f"Config.{attr} repeats a default"
    for s in config.SETTINGS:
        assert s.fix_text.startswith(("set ", "unset ")) or "→" in s.fix_text, s.env
        if s.secret or s.required_in_cloud or s.env.startswith(("FRONT_", "INTEGRATION_")):
            assert s.fix.strip(), f"{s.env} has no fix text of its own"


def test_lenient_load_keeps_what_parses_and_lists_the_problems() -> None:
    cfg = config.load(
        {"LOG_LEVEL": "LOUD", "DATABASE_URL": "postgres://x", "SLACK_TEAM_ID": "T0AAA"},
        lenient=True,
    )
    assert cfg.log_level == "INFO"  # the default replaces the malformed value
    assert cfg.database_url == ""  # never a guessed database
    assert cfg.slack_team_id == "T0AAA"
    names = [p.split("=")[0].split(" ")[0] for p in cfg.problems]
    assert names == ["DATABASE_URL", "LOG_LEVEL", "INNGEST_EVENT_KEY", "INNGEST_SIGNING_KEY"]
    assert config.load({"INNGEST_DEV": "1"}, lenient=True).problems == ()
    with pytest.raises(config.ConfigError):
        config.load({"LOG_LEVEL": "LOUD", "INNGEST_DEV": "1"})
