"""The integration kit: docs/integration-api.md's examples and test vector, sent through the real
client (support/integrations.py) to the reference app (examples/integration_app.py) over HTTP; and
`flask --app app apps check` against the reference app, the loopback fake and broken apps."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from flask import Flask, Response, request

from app import create_app
from support.db import migrate
from support.integrations import (
    IntegrationAuthError,
    IntegrationClient,
    IntegrationRejected,
    encode_body,
    signature_header,
)
from tests.apps_cli import apps_add_args
from tests.fakes.integration import IntegrationFake
from tests.support_server import LiveServer
from tests.world import INTEGRATION_SECRET

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "integration-api.md").read_text()
VARIES = {
    "refund_id": "re_",
    "transfer_id": "tr_",
    "to_user_id": "usr_",
    "url": "http",
    "expires_at": "",
}


def load_reference() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "integration_app", ROOT / "examples" / "integration_app.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["integration_app"] = module
    spec.loader.exec_module(module)
    return module


ref = load_reference()


@pytest.fixture
def reference(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The reference app over HTTP with the doc's demo data: (url, database path)."""
    database = str(tmp_path / "ref.db")
    app = ref.create_app(database, INTEGRATION_SECRET)
    ref.seed(database, ref.DEMO_USERS, ref.DEMO_PURCHASES)
    with LiveServer(app) as server:
        yield server.url, database


def examples() -> dict[tuple[str, str], tuple[Any, int | None]]:
    """(action, 'request'|'answer') -> (parsed JSON, status) from the doc's marked blocks."""
    found = {}
    pattern = r"<!-- example: ([a-z-]+) (request|answer)(?: (\d+))? -->\n```json\n(.*?)\n```"
    for action, kind, status, body in re.findall(pattern, DOC, re.S):
        found[(action, kind)] = (json.loads(body), int(status) if status else None)
    return found


ACTIONS = [
    "lookup-user",
    "get-purchases",
    "revoke-access",
    "transfer-purchase",
    "generate-magic-link",
]


def test_the_doc_has_a_request_and_an_answer_for_every_action() -> None:
    found = examples()
    for action in ACTIONS:
        assert (action, "request") in found and (action, "answer") in found, action
    from support import integrations

    assert integrations.STATE_CHANGING == {"revoke-access", "transfer-purchase"}
    from tests.fakes.integration import TOLERANCE_SECONDS

    assert ref.TOLERANCE_SECONDS == TOLERANCE_SECONDS == 300
    assert f"|now - t| > {TOLERANCE_SECONDS}` seconds" in DOC
    assert integrations.IDEMPOTENCY_HEADER in DOC and integrations.SIGNATURE_HEADER in DOC


def same_shape(doc: Any, actual: Any, key: str = "") -> None:
    if key in VARIES:
        assert isinstance(actual, str) and actual.startswith(VARIES[key]), (key, actual)
        return
    if isinstance(doc, dict):
        assert isinstance(actual, dict) and set(actual) == set(doc), (doc, actual)
        for k in doc:
            same_shape(doc[k], actual[k], k)
    elif isinstance(doc, list):
        assert isinstance(actual, list) and len(actual) == len(doc)
        for d, a in zip(doc, actual, strict=True):
            same_shape(d, a, key)
    else:
        assert actual == doc, (key, doc, actual)


@pytest.mark.parametrize("action", ACTIONS)
def test_each_doc_example_through_the_real_client(action: str, reference: tuple[str, str]) -> None:
    url, _ = reference
    found = examples()
    request_body, _ = found[(action, "request")]
    answer, status = found[(action, "answer")]
    assert status == 200
    client = IntegrationClient(url, INTEGRATION_SECRET, timeout=10)
    key = "act_" + "0" * 32 if action in ("revoke-access", "transfer-purchase") else None
    actual = client.call(action, request_body, idempotency_key=key)
    same_shape(answer, actual)
    if key:  # a retry with the same key gets the stored answer and changes nothing
        assert client.call(action, request_body, idempotency_key=key) == actual


def test_the_typed_helpers_agree_with_the_doc(reference: tuple[str, str]) -> None:
    url, _ = reference
    client = IntegrationClient(url, INTEGRATION_SECRET, timeout=10)
    user = client.lookup_user("JANE@example.com")
    assert user is not None and user["id"] == "usr_1001"
    assert client.lookup_user("nobody@example.com") is None
    assert [p["id"] for p in client.get_purchases("usr_1001")] == ["pur_2001"]
    assert client.get_purchases("usr_unknown") == []
    refund = client.revoke_access(
        purchase_id="pur_2001", reason="charged twice", amount=None, idempotency_key="act_k1"
    )
    assert refund["amount"] == 4900 and refund["status"] == "refunded"


def test_refusals_and_idempotency_of_the_reference_app(reference: tuple[str, str]) -> None:
    url, database = reference
    client = IntegrationClient(url, INTEGRATION_SECRET, timeout=10)
    refund = {"purchase_id": "pur_2001", "reason": "charged twice", "amount": 4900}
    with pytest.raises(IntegrationRejected, match="400: missing Idempotency-Key"):
        httpx_call(url, "revoke-access", refund, key=None)
    with pytest.raises(IntegrationRejected, match="400: invalid amount"):
        client.call("revoke-access", {**refund, "amount": 9900}, idempotency_key="act_a")
    # the refusal was stored for its key: the same request gets it again
    with pytest.raises(IntegrationRejected, match="400: invalid amount"):
        client.call("revoke-access", {**refund, "amount": 9900}, idempotency_key="act_a")
    first = client.call("revoke-access", refund, idempotency_key="act_b")
    assert client.call("revoke-access", refund, idempotency_key="act_b") == first
    with pytest.raises(IntegrationRejected, match="409: idempotency key reused"):
        client.call("revoke-access", {**refund, "amount": 100}, idempotency_key="act_b")
    with pytest.raises(IntegrationRejected, match="409: already refunded"):
        client.call("revoke-access", refund, idempotency_key="act_c")
    with pytest.raises(IntegrationRejected, match="404: purchase not found"):
        client.call("revoke-access", {**refund, "purchase_id": "pur_x"}, idempotency_key="act_d")
    with pytest.raises(IntegrationRejected, match="400: missing field: email"):
        client.call("lookup-user", {})
    with pytest.raises(IntegrationRejected, match="404: user not found"):
        client.call("generate-magic-link", {"email": "nobody@example.com"})
    with pytest.raises(IntegrationAuthError):
        IntegrationClient(url, "another-secret-of-16+chars").call("lookup-user", {"email": "x@y.z"})
    import sqlite3

    with sqlite3.connect(database) as db:
        assert db.execute("SELECT COUNT(*) FROM refunds").fetchone()[0] == 1


def test_concurrent_requests_with_one_key_apply_once(reference: tuple[str, str]) -> None:
    url, database = reference
    client = IntegrationClient(url, INTEGRATION_SECRET, timeout=30)
    body = {"purchase_id": "pur_2001", "reason": "charged twice"}
    answers: list[dict[str, Any]] = []

    def refund() -> None:
        answers.append(client.call("revoke-access", body, idempotency_key="act_same"))

    threads = [threading.Thread(target=refund) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == 6 and all(a == answers[0] for a in answers)
    import sqlite3

    with sqlite3.connect(database) as db:
        assert db.execute("SELECT COUNT(*) FROM refunds").fetchone()[0] == 1


def httpx_call(url: str, action: str, data: dict[str, Any], key: str | None) -> dict[str, Any]:
    """A signed call without an idempotency key (the real client refuses to make one)."""
    body = encode_body(data)
    headers = {
        "Content-Type": "application/json",
        "X-Support-Signature": signature_header(INTEGRATION_SECRET, body),
    }
    if key:
        headers["Idempotency-Key"] = key
    response = httpx.post(f"{url}/api/support/{action}", content=body, headers=headers)
    if response.status_code >= 400:
        raise IntegrationRejected(f"{response.status_code}: {response.json()['error']}")
    result: dict[str, Any] = response.json()
    return result


def test_the_known_answer_vector(tmp_path: Path) -> None:
    row = re.search(r"<!-- vector -->(.*?)\n\n", DOC, re.S)
    assert row
    table = row.group(1)
    secret = re.search(r"\| secret \| `([^`]+)` \|", table)
    t = re.search(r"\| t \| `(\d+)` \|", table)
    body = re.search(r"\| body \(\d+ bytes\) \| `([^`]+)` \|", table)
    header = re.search(r"\| expected header \| `([^`]+)` \|", table)
    assert secret and t and body and header
    raw = body.group(1).encode()
    assert f"({len(raw)} bytes)" in table
    assert signature_header(secret.group(1), raw, int(t.group(1))) == header.group(1)
    assert encode_body(json.loads(raw)) == raw  # it is what the real client sends
    now = float(t.group(1))
    assert ref.verify_signature(secret.group(1), header.group(1), raw, now)
    assert ref.verify_signature(secret.group(1), header.group(1), raw, now + 300)
    assert not ref.verify_signature(secret.group(1), header.group(1), raw, now + 301)
    assert not ref.verify_signature(secret.group(1), header.group(1), raw + b" ", now)
    assert not ref.verify_signature("another-secret-0123", header.group(1), raw, now)
    # and the reference app, with its clock at t, answers it
    database = str(tmp_path / "kat.db")
    app = ref.create_app(database, secret.group(1), clock=lambda: now)
    ref.seed(database, ref.DEMO_USERS, ref.DEMO_PURCHASES)
    answer = app.test_client().post(
        "/api/support/lookup-user", data=raw, headers={"X-Support-Signature": header.group(1)}
    )
    assert answer.status_code == 200 and answer.get_json()["user"]["id"] == "usr_1001"


# --- apps check ---------------------------------------------------------------------------------


def check(tmp_path: Path, url: str, secret: str = INTEGRATION_SECRET) -> tuple[int, str]:
    db_url = f"sqlite:///{tmp_path / 'check.db'}"
    migrate.upgrade(db_url)
    runner = create_app(
        {"INNGEST_DEV": "1", "DATABASE_URL": db_url, "LOG_LEVEL": "WARNING"}
    ).test_cli_runner()
    added = runner.invoke(
        args=apps_add_args(**{"--integration-url": url, "--integration-secret": secret})
    )
    assert added.exit_code == 0, added.output
    result = runner.invoke(args=["apps", "check", "acme"])
    assert secret not in result.output
    return result.exit_code, result.output


def status_of(output: str, name: str) -> str:
    for row in output.splitlines():
        parts = row.split()
        if len(parts) >= 2 and parts[1] == name:
            return parts[0]
    raise AssertionError(f"no {name} line in:\n{output}")


CHECKS = [
    "url",
    "signed.lookup-user",
    "signed.get-purchases",
    "refuses.unsigned",
    "refuses.wrong-secret",
    "refuses.stale",
    "refuses.future",
]


def test_check_passes_against_the_reference_app(tmp_path: Path, reference: tuple[str, str]) -> None:
    url, database = reference
    code, output = check(tmp_path, url)
    assert code == 0, output
    assert {name: status_of(output, name) for name in CHECKS} == dict.fromkeys(CHECKS, "ok")
    assert re.search(r"signed.lookup-user\s+HTTP 200 in shape \(\d+ ms\)", output)
    import sqlite3

    with sqlite3.connect(database) as db:  # nothing changed
        assert db.execute("SELECT COUNT(*) FROM users").fetchone()[0] == 1
        assert db.execute("SELECT COUNT(*) FROM idempotency").fetchone()[0] == 0


def test_check_passes_against_the_fake(tmp_path: Path) -> None:
    with IntegrationFake(secret=INTEGRATION_SECRET) as fake:
        code, output = check(tmp_path, fake.url)
        assert code == 0, output
        assert not fake.refunds and not fake.transfers and not fake.magic_links


def test_check_with_a_secret_the_app_does_not_share(tmp_path: Path) -> None:
    with IntegrationFake(secret="the-product-has-another-secret") as fake:
        code, output = check(tmp_path, fake.url)
    assert code == 1
    assert status_of(output, "signed.lookup-user") == "fail"
    assert "apps rotate-secret acme" in output
    # the refusals still hold
    assert status_of(output, "refuses.unsigned") == "ok"


def lax_app(*, check_time: bool, check_signature: bool) -> Flask:
    """A broken integration: it skips part of the signature check."""
    app = Flask("lax")

    @app.post("/api/support/<action>")
    def handle(action: str) -> Response:
        header = request.headers.get("X-Support-Signature", "")
        raw = request.get_data()
        now = (
            float(header.split(",")[0][2:]) if header.startswith("t=") and not check_time else None
        )
        ok = not check_signature or ref.verify_signature(
            INTEGRATION_SECRET, header, raw, now if now is not None else __import__("time").time()
        )
        if not ok:
            return Response(
                json.dumps({"error": "bad signature"}), 401, mimetype="application/json"
            )
        body = {"user": None} if action == "lookup-user" else {"purchases": []}
        return Response(json.dumps(body), 200, mimetype="application/json")

    return app


def test_check_fails_an_app_that_accepts_unsigned_calls(tmp_path: Path) -> None:
    with LiveServer(lax_app(check_time=True, check_signature=False)) as server:
        code, output = check(tmp_path, server.url)
    assert code == 1
    for name in ("refuses.unsigned", "refuses.wrong-secret", "refuses.stale", "refuses.future"):
        assert status_of(output, name) == "fail"
    assert "was answered HTTP 200, not 401" in output and "fix: verify the signature" in output
    assert status_of(output, "signed.lookup-user") == "ok"


def test_check_fails_an_app_that_ignores_the_time_window(tmp_path: Path) -> None:
    with LiveServer(lax_app(check_time=False, check_signature=True)) as server:
        code, output = check(tmp_path, server.url)
    assert code == 1
    assert (
        status_of(output, "refuses.stale") == "fail"
        and status_of(output, "refuses.future") == "fail"
    )
    assert (
        status_of(output, "refuses.unsigned") == "ok"
        and status_of(output, "refuses.wrong-secret") == "ok"
    )


def test_check_of_an_app_that_does_not_answer(tmp_path: Path) -> None:
    code, output = check(tmp_path, "http://127.0.0.1:9")
    assert code == 1
    assert status_of(output, "signed.lookup-user") == "fail"
    assert "no answer" in output and "reachable from this host" in output


def test_check_of_an_unknown_app(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'none.db'}"
    migrate.upgrade(db_url)
    runner = create_app({"INNGEST_DEV": "1", "DATABASE_URL": db_url}).test_cli_runner()
    result = runner.invoke(args=["apps", "check", "nope"])
    assert result.exit_code != 0 and "no app with slug 'nope'" in result.output


def test_check_answers_in_shape_or_says_what_is_wrong(tmp_path: Path) -> None:
    app = Flask("wrong-shape")

    @app.post("/api/support/<action>")
    def handle(action: str) -> Response:
        if not ref.verify_signature(
            INTEGRATION_SECRET,
            request.headers.get("X-Support-Signature"),
            request.get_data(),
            __import__("time").time(),
        ):
            return Response('{"error": "bad signature"}', 401, mimetype="application/json")
        return Response('{"customer": {"id": 7}}', 200, mimetype="application/json")

    with LiveServer(app) as server:
        code, output = check(tmp_path, server.url)
    assert code == 1
    assert 'not a JSON object with a "user" key' in output
    assert 'not a JSON object with a "purchases" list' in output
