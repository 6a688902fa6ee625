"""`flask inngest sync` and the guard in front of /api/inngest, in dev and cloud mode."""

from __future__ import annotations

import secrets
from pathlib import Path

import httpx
from flask import Flask

from app import create_app
from tests.fakes.inngest_double import InngestDouble
from tests.support_server import LiveServer


def dev_app(tmp_path: Path, inngest_url: str = "http://127.0.0.1:9", **env: str) -> Flask:
    """The app in dev mode on a SQLite file (nothing listens at the default Inngest URL)."""
    return create_app(
        {
            "INNGEST_DEV": "1",
            "INNGEST_BASE_URL": inngest_url,
            "DATABASE_URL": f"sqlite:///{tmp_path}/d.db",
            **env,
        }
    )


def cloud_settings(tmp_path: Path, double: InngestDouble, **extra: str) -> dict[str, str]:
    assert double.signing_key and double.event_key
    return {
        "DATABASE_URL": f"sqlite:///{tmp_path}/sync.db",
        "INNGEST_SIGNING_KEY": double.signing_key,
        "INNGEST_EVENT_KEY": double.event_key,
        "INNGEST_BASE_URL": double.url,
        **extra,
    }


def test_cli_sync_registers_every_function_in_dev_mode(tmp_path: Path) -> None:
    with InngestDouble() as double:
        app = dev_app(tmp_path, double.url)
        result = app.test_cli_runner().invoke(
            args=["inngest", "sync", "--url", "http://127.0.0.1:3000"]
        )
        assert result.exit_code == 0, result.output
        assert "registered functions at http://127.0.0.1:3000/api/inngest" in result.output
        ids = set(double.functions)
        assert {
            "support-agent-handle-inbound-message",
            "support-agent-request-approval",
            "support-agent-execute-action",
            "support-agent-process-refund",
        } <= ids
        urls = {r["body"]["url"] for r in double.register_requests}
        assert urls == {"http://127.0.0.1:3000/api/inngest"}


def test_cli_sync_reports_an_unreachable_server_and_that_no_answer_came(tmp_path: Path) -> None:
    result = dev_app(tmp_path).test_cli_runner().invoke(args=["inngest", "sync"])
    assert result.exit_code != 0
    assert "Inngest registration failed" in result.output
    assert "no answer from http://127.0.0.1:9/fn/register" in result.output
    assert "Connection refused" in result.output and "HTTP 500" not in result.output


def test_cloud_mode_sync_without_public_url(tmp_path: Path) -> None:
    key = "signkey-test-" + secrets.token_hex(32)
    with InngestDouble(signing_key=key, event_key="evkey") as double:
        app = create_app(cloud_settings(tmp_path, double))
        with LiveServer(app) as server:
            # An outsider's unsigned PUT could choose the registered URL (Host header): refused.
            outsider = httpx.put(server.url + "/api/inngest", headers={"Host": "attacker.example"})
            assert outsider.status_code == 401
            assert double.register_requests == []
            # The operator's in-process sync still works.
            result = app.test_cli_runner().invoke(args=["inngest", "sync", "--url", server.url])
            assert result.exit_code == 0, result.output
            assert {r["body"]["url"] for r in double.register_requests} == {
                server.url + "/api/inngest"
            }


def test_cloud_mode_with_public_url_pins_the_registered_url(tmp_path: Path) -> None:
    key = "signkey-test-" + secrets.token_hex(32)
    with InngestDouble(signing_key=key, event_key="evkey") as double:
        app = create_app(cloud_settings(tmp_path, double, PUBLIC_URL="https://support.example.com"))
        with LiveServer(app) as server:
            answer = httpx.put(server.url + "/api/inngest", headers={"Host": "attacker.example"})
            assert answer.status_code == 200, answer.text
            urls = {r["body"]["url"] for r in double.register_requests}
            assert urls == {"https://support.example.com/api/inngest"}


def test_unsigned_and_stale_calls_are_refused_in_cloud_mode(tmp_path: Path) -> None:
    key = "signkey-test-" + secrets.token_hex(32)
    with InngestDouble(signing_key=key, event_key="evkey") as double:
        app = create_app(cloud_settings(tmp_path, double))
        with LiveServer(app) as server:
            url = server.url + "/api/inngest?fnId=support-agent-ping&stepId=step"
            assert httpx.post(url, content=b"{}").status_code == 401
            from tests.fakes.inngest_double._support import sign

            stale = sign(b"{}", key, unix_s=1_000_000_000)
            assert (
                httpx.post(url, content=b"{}", headers={"X-Inngest-Signature": stale}).status_code
                == 401
            )
            assert httpx.put(server.url + "/api/inngest?probe=nonsense").status_code == 400


def test_cli_ping_proves_the_loop(tmp_path: Path) -> None:
    from support.db import migrate

    url = f"sqlite:///{tmp_path}/ping.db"
    migrate.upgrade(url)
    with InngestDouble() as double:
        app = create_app({"INNGEST_DEV": "1", "INNGEST_BASE_URL": double.url, "DATABASE_URL": url})
        with LiveServer(app) as server:
            double.sync(server.url + "/api/inngest")
            result = app.test_cli_runner().invoke(args=["inngest", "ping"])
            assert result.exit_code == 0, result.output
            double.wait_idle()
            (run,) = double.runs_for("ping")
            assert run.status == "completed" and run.output["pong"] is True
        import sqlalchemy as sa

        engine = sa.create_engine(url)
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT event, actor FROM audit_log")).all()
        engine.dispose()
        assert [tuple(r) for r in rows] == [("inngest.ping", "cli")]


def test_cli_ping_explains_a_failed_send(tmp_path: Path) -> None:
    app = dev_app(tmp_path)
    result = app.test_cli_runner().invoke(args=["inngest", "ping"])
    assert result.exit_code != 0 and "could not send support/ping" in result.output


def test_cli_sync_refuses_a_url_that_is_not_one(tmp_path: Path) -> None:
    with InngestDouble() as double:
        app = dev_app(tmp_path, double.url)
        for bad in ("not-a-url", "ftp://x.example", "http://has space.example", ""):
            result = app.test_cli_runner().invoke(args=["inngest", "sync", "--url", bad])
            assert result.exit_code != 0, (bad, result.output)
            assert "is not an http(s) URL" in result.output
        assert double.register_requests == []


def test_cloud_mode_sync_refuses_without_public_url(tmp_path: Path) -> None:
    key = "signkey-test-" + secrets.token_hex(32)
    with InngestDouble(signing_key=key, event_key="evkey") as double:
        app = create_app(cloud_settings(tmp_path, double))
        result = app.test_cli_runner().invoke(args=["inngest", "sync"])
        assert result.exit_code != 0
        assert "PUBLIC_URL is unset" in result.output and "nothing was registered" in result.output
        assert double.register_requests == []


def test_dev_mode_sync_defaults_to_port(tmp_path: Path) -> None:
    with InngestDouble() as double:
        app = dev_app(tmp_path, double.url, PORT="3123")
        result = app.test_cli_runner().invoke(args=["inngest", "sync"])
        assert result.exit_code == 0, result.output
        assert {r["body"]["url"] for r in double.register_requests} == {
            "http://127.0.0.1:3123/api/inngest"
        }
