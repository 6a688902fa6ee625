"""The Front contract table (``tests/contracts/front.py``) against Front's OpenAPI document, the
client against the table, and the fake holding the client to it."""

from __future__ import annotations

import ast
import inspect
import json
import pathlib
from collections.abc import Iterator
from typing import Any

import pytest

from support.front import FrontClient, FrontError, FrontNotFound
from tests.contracts import front as contract
from tests.fakes.front import FrontFake

ROOT = pathlib.Path(__file__).resolve().parents[2]
SPEC = ROOT.parent / "shared" / "contracts" / "front-core-api.json"
if not SPEC.exists():  # the worktree layout: /work/wt/<name> next to /work/shared
    SPEC = ROOT.parents[1] / "shared" / "contracts" / "front-core-api.json"
TOKEN = "front-token"


# -- the table is Front's specification --------------------------------------------------------


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    if not SPEC.exists():
        pytest.skip(f"Front's OpenAPI document is not here ({SPEC}): nothing to compare with")
    document: dict[str, Any] = json.loads(SPEC.read_text())
    return document


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A schema with its ``$ref`` and ``allOf`` merged: properties and required fields."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return _resolve(spec, spec["components"]["schemas"][name])
    properties: dict[str, Any] = {}
    required: set[str] = set(schema.get("required", []))
    for part in schema.get("allOf", []):
        resolved = _resolve(spec, part)
        properties.update(resolved["properties"])
        required |= resolved["required"]
    properties.update(schema.get("properties", {}))
    return {"properties": properties, "required": required}


def _operation(spec: dict[str, Any], op: contract.Operation) -> dict[str, Any]:
    paths = spec["paths"]
    assert op.path in paths, f"{op.operation_id}: Front has no path {op.path}"
    method = op.method.lower()
    assert method in paths[op.path], f"{op.operation_id}: Front has no {op.method} {op.path}"
    operation: dict[str, Any] = paths[op.path][method]
    return operation


def _query_parameters(spec: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for param in operation.get("parameters", []):
        if "$ref" in param:
            param = spec["components"]["parameters"][param["$ref"].rsplit("/", 1)[-1]]
        if param.get("in") == "query":
            out[param["name"]] = param
    return out


@pytest.mark.parametrize("op", contract.OPERATIONS, ids=lambda op: op.operation_id)
def test_each_row_is_what_front_specifies(spec: dict[str, Any], op: contract.Operation) -> None:
    operation = _operation(spec, op)
    assert operation["operationId"] == op.operation_id
    responses = set(operation["responses"])
    assert str(op.success) in responses, f"{op.operation_id}: Front answers {responses}"
    assert ("301" in responses) == op.merged_301
    query = set(_query_parameters(spec, operation))
    assert set(op.query) <= query, f"{op.operation_id}: Front's query parameters are {query}"
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if op.schema is None:
        assert body is None, f"{op.operation_id}: Front takes a body"
        return
    assert body is not None and body["schema"]["$ref"].endswith(f"/{op.schema}")
    resolved = _resolve(spec, body["schema"])
    assert {f.name for f in op.fields if f.required} == resolved["required"]
    for f in op.fields:
        prop = resolved["properties"].get(f.name)
        assert prop is not None, f"{op.operation_id}: Front has no field {f.name}"
        assert prop.get("type", "object") == f.type, f"{op.operation_id}.{f.name}"
        assert set(prop.get("enum", [])) == set(f.enum), f"{op.operation_id}.{f.name} enum"
        if f.items:
            assert prop["items"]["type"] == f.items


def test_the_table_lists_each_operation_once() -> None:
    keys = [(op.method, op.path.rstrip("/")) for op in contract.OPERATIONS]
    assert len(keys) == len(set(keys))
    assert len({op.operation_id for op in contract.OPERATIONS}) == len(contract.OPERATIONS)


# -- the client calls only what the table lists --------------------------------------------------


@pytest.fixture
def front() -> Iterator[FrontFake]:
    with FrontFake(token=TOKEN) as fake:
        messages = [{"message_id": f"msg_{i}", "text": f"m {i}"} for i in range(3)]
        fake.add_conversation("cnv_1", "inb_1", messages=messages)  # its inbox has channel cha_1
        yield fake


def _drive_every_client_method(c: FrontClient) -> set[str]:
    """Calls each public method of FrontClient once; returns their names."""
    called = set()
    c.get_message("msg_0")
    called.add("get_message")
    c.conversation_messages("cnv_1", limit=2)
    called.add("conversation_messages")
    c.conversation_inbox_ids("cnv_1")
    called.add("conversation_inbox_ids")
    c.inbox_channel_ids("inb_1")
    called.add("inbox_channel_ids")
    channel = c.channel_for("cnv_1")
    called.add("channel_for")
    draft = c.create_draft("cnv_1", body_html="<p>Hi</p>", channel_id=channel)
    called.add("create_draft")
    c.conversation_drafts("cnv_1")
    called.add("conversation_drafts")
    version = c.get_draft(draft.id).version
    called.add("get_draft")
    assert version
    c.send_reply("cnv_1", body_html="<p>Hi</p>", channel_id=channel)
    called.add("send_reply")
    c.delete_draft(draft.id, version)
    called.add("delete_draft")
    c.comment("cnv_1", "note")
    called.add("comment")
    c.assign("cnv_1", "tea_1")
    c.assign("cnv_1", None)
    called.add("assign")
    return called


def test_every_client_method_calls_a_table_operation_and_gets_its_status(
    front: FrontFake,
) -> None:
    with FrontClient(TOKEN, front.url, timeout=2) as c:
        called = _drive_every_client_method(c)
    public = {
        name
        for name, member in inspect.getmembers(FrontClient, inspect.isfunction)
        if not name.startswith("_") and name not in ("close", "from_config")
    }
    assert called == public, "a new FrontClient method needs its contract row and a call here"
    assert front.contract_violations == []
    used = set()
    for req in front.requests:
        op = contract.find(req.method, req.path)
        assert op is not None and op.service, f"{req.method} {req.path} is not in the table"
        assert req.status == op.success, f"{op.operation_id} answered {req.status}"
        assert op.problems(req.json if req.body else None) == []
        used.add(op.operation_id)
    service = {op.operation_id for op in contract.OPERATIONS if op.service}
    assert service - used == {"api-token-details"}  # called by support.doctor, not the client


def test_a_call_outside_the_table_is_refused_and_recorded(front: FrontFake) -> None:
    with FrontClient(TOKEN, front.url, timeout=2) as c, pytest.raises(FrontNotFound):
        c._request("GET", "/conversations/cnv_1/events")  # a real Front route we never agreed on
    assert front.contract_violations == [
        "GET /conversations/cnv_1/events: not an operation of the contract table"
    ]


@pytest.mark.parametrize(
    "method,path,body,message",
    [
        ("POST", "/conversations/cnv_1/drafts", {"body": "<p>x</p>"}, "channel_id"),
        ("POST", "/conversations/cnv_1/drafts", {"body": 1, "channel_id": "cha_1"}, "string"),
        (
            "POST",
            "/conversations/cnv_1/drafts",
            {"body": "x", "channel_id": "cha_1", "mode": "public"},
            "one of",
        ),
        ("POST", "/conversations/cnv_1/messages", {"text": "x"}, "body"),
        ("POST", "/conversations/cnv_1/messages", {"body": "x", "to": "a@b.c"}, "array"),
        ("POST", "/conversations/cnv_1/comments", None, "JSON object"),
        ("PUT", "/conversations/cnv_1/assignee", {}, "assignee_id"),
        ("DELETE", "/drafts/msg_draft_1", {}, "version"),
        ("DELETE", "/drafts/msg_draft_1", {"version": 3}, "string"),
    ],
)
def test_the_fake_refuses_bodies_front_refuses(
    front: FrontFake, method: str, path: str, body: Any, message: str
) -> None:
    with FrontClient(TOKEN, front.url, timeout=2) as c:
        with pytest.raises(FrontError, match=message) as info:
            c._request(method, path, json=body)
    assert info.value.status == 400
    assert front.drafts == [] and front.sent == [] and front.comments == []
    assert front.assignments == [] and len(front.contract_violations) == 1


def test_unassign_with_null_is_accepted(front: FrontFake) -> None:
    with FrontClient(TOKEN, front.url, timeout=2) as c:
        c.assign("cnv_1", None)
    assert front.assignments == [{"conversation_id": "cnv_1", "assignee_id": None}]
    assert front.contract_violations == []


# -- the source calls only what the table lists ----------------------------------------------------


def _front_calls_in_source() -> list[tuple[str, str, str]]:
    """(file, METHOD, path) of every Front call written in support/: ``_request("GET", f"...")``
    and the doctor's direct ``httpx.get(f"{config.front_api_base_url}/...")``."""
    out = []
    for file in sorted((ROOT / "support").rglob("*.py")):
        tree = ast.parse(file.read_text())
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            name = node.func.attr
            if name == "_request" and len(node.args) >= 2:
                method, url = node.args[0], node.args[1]
                if isinstance(method, ast.Constant) and isinstance(method.value, str):
                    path = _template(url)
                    if path is not None:
                        out.append((file.name, method.value, path))
            elif name in ("get", "post", "put", "patch", "delete") and node.args:
                url = node.args[0]
                if isinstance(url, ast.Name):
                    url = _assigned(tree, url.id) or url
                if isinstance(url, ast.JoinedStr) and "front_api_base_url" in ast.unparse(url):
                    path = _template(url, skip_base=True)
                    if path is not None:
                        out.append((file.name, name.upper(), path))
    return out


def _assigned(tree: ast.AST, name: str) -> ast.expr | None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            if "front_api_base_url" in ast.unparse(node.value):
                return node.value
    return None


def _template(url: ast.expr, *, skip_base: bool = False) -> str | None:
    """An (f-)string URL as a concrete path: each placeholder becomes ``x1``."""
    if isinstance(url, ast.Constant) and isinstance(url.value, str):
        return url.value.split("?")[0]
    if not isinstance(url, ast.JoinedStr):
        return None
    parts = []
    for i, value in enumerate(url.values):
        if isinstance(value, ast.Constant):
            parts.append(str(value.value))
        elif not (skip_base and i == 0):
            parts.append("x1")
    return "".join(parts).split("?")[0]


def test_every_front_call_in_the_source_is_in_the_table() -> None:
    calls = _front_calls_in_source()
    assert len(calls) >= 10, calls  # the scan finds the client's calls (it is not blind)
    assert ("front.py", "GET", "/me") in calls  # support/doctor/front.py
    for file, method, path in calls:
        op = contract.find(method, path)
        assert op is not None and op.service, f"{file}: {method} {path} is not in the table"


# -- requests validated against the OpenAPI document itself ----------------------------------------


def test_what_the_client_sends_validates_against_front_openapi(
    spec: dict[str, Any], front: FrontFake
) -> None:
    with FrontClient(TOKEN, front.url, timeout=2) as c:
        _drive_every_client_method(c)
    checked = 0
    for req in front.requests:
        op = contract.find(req.method, req.path)
        assert op is not None
        operation = _operation(spec, op)
        params = _query_parameters(spec, operation)
        for name, value in req.query.items():
            assert name in params, f"{op.operation_id}: query {name} is not Front's"
            if params[name]["schema"].get("type") == "integer":
                assert value.isdigit()
        content = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if content is None:
            assert not req.body, f"{op.operation_id} takes no body"
            continue
        schema = _resolve(spec, content["schema"])
        assert isinstance(req.json, dict)
        assert schema["required"] <= set(req.json), op.operation_id
        for key, value in req.json.items():
            prop = schema["properties"].get(key)
            assert prop is not None, f"{op.operation_id}: {key} is not a field of Front's"
            if value is None:
                assert key == "assignee_id"  # "Set it to null to unassign"
                continue
            kind = prop.get("type", "object")
            assert contract._is(value, kind), f"{op.operation_id}.{key} is not {kind}"
            if "enum" in prop:
                assert value in prop["enum"]
        checked += 1
    assert checked >= 5
