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
        "DATABASE_URL", "SLACK_API_BASE_URL", "SLACK_APPROVER_IDS", "APPROVAL_TIMEOUT_HOURS",
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
