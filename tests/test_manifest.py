"""slack/manifest.yml must match the code: scopes, events, request URLs, action and callback ids.

The checker is static (``ast``), so it sees every call and registration in the source, including
branches no test runs:

* Web API calls: ``<anything>.<name>(...)`` where ``<name>`` is a ``slack_sdk.WebClient`` method
  (the method -> API name map is read from slack_sdk itself: ``chat_postMessage`` ->
  ``chat.postMessage``), ``<anything>.api_call("x.y")``, and Bolt's ``say(...)``
  (``chat.postMessage``). Each called method must be in ``METHOD_SCOPES`` (the table below: add a
  row when the code calls a new method), its scopes must be in the manifest, and the manifest may
  hold no scope that no call needs.
* Listeners: ``app.action(X)`` / ``app.view(X)`` / ``app.event(X)`` ... in slack/listeners.py, with
  X a string, a constant of slack/blocks.py (``blocks.APPROVE``), a ``{"action_id": ...}``
  constraint or a ``re.compile(...)`` pattern. Each action / callback id must be emitted by
  slack/blocks.py, and each interactive element blocks.py emits (a button without ``url``, a
  modal's ``callback_id``) must have a listener. Link buttons and modal inputs need none.
* Events: each ``app.event("x")`` is a manifest bot event and vice versa.

``test_checker_reports_*`` prove the checker catches each kind of drift on small synthetic sources.
"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from slack_sdk import WebClient

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "slack" / "manifest.yml"
LISTENERS = ROOT / "slack" / "listeners.py"
BLOCKS = ROOT / "slack" / "blocks.py"

# Web API method -> bot scopes it needs. Keep this table honest (https://api.slack.com/methods).
METHOD_SCOPES: dict[str, frozenset[str]] = {
    "auth.test": frozenset(),
    "chat.postMessage": frozenset({"chat:write"}),
    "chat.update": frozenset({"chat:write"}),
    "chat.postEphemeral": frozenset({"chat:write"}),
    "chat.delete": frozenset({"chat:write"}),
    "chat.getPermalink": frozenset(),
    "views.open": frozenset(),
    "views.publish": frozenset(),
    "views.update": frozenset(),
    "views.push": frozenset(),
    "users.info": frozenset({"users:read"}),
    # the approval channel may be public or private: a retried post looks for its own message
    "conversations.history": frozenset({"channels:history", "groups:history"}),
    "users.lookupByEmail": frozenset({"users:read.email"}),
    "conversations.open": frozenset({"im:write"}),
    "reactions.add": frozenset({"reactions:write"}),
}

# Events API event -> bot scopes its subscription needs.
EVENT_SCOPES: dict[str, frozenset[str]] = {
    "app_home_opened": frozenset(),
    "app_mention": frozenset({"app_mentions:read"}),
    "message.im": frozenset({"im:history"}),
}

INPUT_PARENTS = {"InputBlock"}
"""Elements built inside these need no listener (their values arrive with the view submission)."""


@cache
def client_methods() -> dict[str, str]:
    """slack_sdk ``WebClient`` attribute -> Web API method, read from each method's source."""
    found: dict[str, str] = {}
    for name, member in inspect.getmembers(WebClient, inspect.isfunction):
        if name.startswith("_"):
            continue
        try:
            source = inspect.getsource(member)
        except (OSError, TypeError):
            continue
        match = re.search(r"""api_call\(\s*["']([A-Za-z0-9_.]+)["']""", source)
        if match:
            found[name] = match.group(1)
    return found


def _call_name(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    if isinstance(node.func, ast.Name):
        return node.func.id
    return None


def api_calls(source: str) -> set[str]:
    """Every Slack Web API method ``source`` calls."""
    methods = client_methods()
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = _call_name(node)
        if isinstance(node.func, ast.Attribute) and name in methods:
            found.add(methods[name])
        elif name == "api_call" and node.args and isinstance(node.args[0], ast.Constant):
            found.add(str(node.args[0].value))
        elif isinstance(node.func, ast.Name) and name == "say":
            found.add("chat.postMessage")
    return found


def source_files() -> dict[str, str]:
    paths = [ROOT / "app.py", *sorted((ROOT / "support").rglob("*.py"))]
    paths += sorted((ROOT / "slack").rglob("*.py"))
    return {str(p.relative_to(ROOT)): p.read_text() for p in paths if "migrations" not in p.parts}


def load_manifest(text: str | None = None) -> dict[str, Any]:
    data = yaml.safe_load(MANIFEST.read_text() if text is None else text)
    assert isinstance(data, dict)
    return data


def manifest_scopes(manifest: dict[str, Any]) -> set[str]:
    return set(manifest.get("oauth_config", {}).get("scopes", {}).get("bot", []) or [])


def manifest_events(manifest: dict[str, Any]) -> set[str]:
    subs = manifest.get("settings", {}).get("event_subscriptions", {}) or {}
    return set(subs.get("bot_events", []) or [])


# --- listeners and blocks ---------------------------------------------------------------------


def string_constants(source: str) -> dict[str, str]:
    """Module-level ``NAME = "text"`` assignments."""
    out: dict[str, str] = {}
    for node in ast.parse(source).body:
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    out[target.id] = node.value.value
    return out


@dataclass(frozen=True)
class Matcher:
    """What a listener matches: an exact id or a regex."""

    kind: str  # action | view | event | shortcut | command | options
    text: str
    regex: bool = False

    def matches(self, value: str) -> bool:
        return bool(re.fullmatch(self.text, value)) if self.regex else self.text == value


REGISTRATIONS = {
    "action": "action",
    "block_action": "action",
    "view": "view",
    "view_submission": "view",
    "view_closed": "view",
    "event": "event",
    "shortcut": "shortcut",
    "global_shortcut": "shortcut",
    "message_shortcut": "shortcut",
    "command": "command",
    "options": "options",
    "block_suggestion": "options",
}
UNSUPPORTED = {
    "message",
    "function",
    "dialog_submission",
    "dialog_cancellation",
    "attachment_action",
}


def _resolve(node: ast.expr, constants: dict[str, str]) -> tuple[str, bool] | None:
    """(text, is_regex) of a listener argument, or None when it cannot be read statically."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value, False
    if isinstance(node, ast.Attribute) and node.attr in constants:
        return constants[node.attr], False
    if isinstance(node, ast.Name) and node.id in constants:
        return constants[node.id], False
    if isinstance(node, ast.Call) and _call_name(node) == "compile" and node.args:
        inner = _resolve(node.args[0], constants)
        return (inner[0], True) if inner else None
    if isinstance(node, ast.Dict):
        for key, value in zip(node.keys, node.values, strict=True):
            if isinstance(key, ast.Constant) and key.value in ("action_id", "callback_id", "type"):
                return _resolve(value, constants)
    return None


@dataclass
class Listeners:
    matchers: list[Matcher] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def of(self, kind: str) -> list[Matcher]:
        return [m for m in self.matchers if m.kind == kind]


def listeners_in(source: str, constants: dict[str, str]) -> Listeners:
    """Every ``app.<registration>(X)`` in ``source``; X resolved through ``constants``."""
    out = Listeners()
    for node in ast.walk(ast.parse(source)):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "app"
        ):
            continue
        method = node.func.attr
        if method in UNSUPPORTED:
            out.problems.append(
                f"listener app.{method}(...) (line {node.lineno}) is not understood by "
                "tests/test_manifest.py: teach the checker its events and scopes"
            )
            continue
        if method not in REGISTRATIONS:
            continue
        if not node.args:
            continue
        resolved = _resolve(node.args[0], constants)
        if resolved is None:
            out.problems.append(
                f"app.{method}(...) at line {node.lineno}: its id cannot be read statically "
                "(use a string, a slack.blocks constant, or re.compile)"
            )
            continue
        out.matchers.append(Matcher(REGISTRATIONS[method], resolved[0], resolved[1]))
    return out


@dataclass(frozen=True)
class Emitted:
    kind: str  # action | view
    id: str
    needs_listener: bool
    where: str


def emitted_in(source: str) -> list[Emitted]:
    """Every ``action_id=`` / ``callback_id=`` keyword (or dict key) slack/blocks.py builds."""
    constants = string_constants(source)
    tree = ast.parse(source)
    parents: dict[ast.AST, ast.AST] = {}
    for parent in ast.walk(tree):
        for child in ast.iter_child_nodes(parent):
            parents[child] = parent

    def inside_input(node: ast.AST) -> bool:
        current: ast.AST | None = parents.get(node)
        while current is not None:
            if isinstance(current, ast.Call) and _call_name(current) in INPUT_PARENTS:
                return True
            current = parents.get(current)
        return False

    out: list[Emitted] = []
    for node in ast.walk(tree):
        pairs: list[tuple[str, ast.expr]] = []
        keywords: set[str] = set()
        if isinstance(node, ast.Call):
            keywords = {k.arg for k in node.keywords if k.arg}
            pairs = [(k.arg, k.value) for k in node.keywords if k.arg]
        elif isinstance(node, ast.Dict):
            keys = [k.value for k in node.keys if isinstance(k, ast.Constant)]
            keywords = {str(k) for k in keys}
            pairs = [
                (str(k.value), v)
                for k, v in zip(node.keys, node.values, strict=True)
                if isinstance(k, ast.Constant)
            ]
        for key, value in pairs:
            if key not in ("action_id", "callback_id"):
                continue
            resolved = _resolve(value, constants)
            if resolved is None:
                raise AssertionError(
                    f"slack/blocks.py line {node.lineno}: {key} cannot be read statically"
                )
            where = f"{_call_name(node) if isinstance(node, ast.Call) else 'dict'}:{node.lineno}"
            if key == "callback_id":
                out.append(Emitted("view", resolved[0], True, where))
            else:
                link = "url" in keywords
                out.append(
                    Emitted("action", resolved[0], not link and not inside_input(node), where)
                )
    return out


# --- the two checks -----------------------------------------------------------------------------


def scope_problems(
    sources: dict[str, str], manifest: dict[str, Any], listeners: Listeners
) -> list[str]:
    problems: list[str] = []
    needed: set[str] = set()

    def require(scopes: frozenset[str] | None, unknown: str, who: str) -> None:
        """``who`` needs ``scopes`` (None: ``unknown``, the table does not list it)."""
        if scopes is None:
            problems.append(unknown)
            return
        needed.update(scopes)
        for scope in sorted(scopes - manifest_scopes(manifest)):
            problems.append(
                f"{who} needs scope {scope}: add it to slack/manifest.yml oauth_config.scopes.bot"
            )

    for path, source in sorted(sources.items()):
        for method in sorted(api_calls(source)):
            require(
                METHOD_SCOPES.get(method),
                f"{path} calls {method}: add it to METHOD_SCOPES in tests/test_manifest.py "
                "with the scopes it needs",
                f"{path} calls {method}, which",
            )
    registered_events = {m.text for m in listeners.of("event")}
    for event in sorted(registered_events):
        require(
            EVENT_SCOPES.get(event),
            f"listener for event {event}: add it to EVENT_SCOPES",
            f"event {event}",
        )
    for event in sorted(registered_events - manifest_events(manifest)):
        problems.append(
            f"a listener handles event {event}: add it to slack/manifest.yml "
            "settings.event_subscriptions.bot_events"
        )
    for event in sorted(manifest_events(manifest) - registered_events):
        problems.append(f"slack/manifest.yml subscribes to {event} but no listener handles it")
    for scope in sorted(manifest_scopes(manifest) - needed):
        problems.append(
            f"slack/manifest.yml asks for scope {scope} but nothing needs it: remove it"
        )
    if listeners.of("shortcut") or listeners.of("command"):
        problems.append(
            "shortcut / slash command listeners need features.shortcuts / slash_commands in "
            "slack/manifest.yml and a check here"
        )
    return problems + listeners.problems


def id_problems(listeners: Listeners, emitted: list[Emitted]) -> list[str]:
    problems: list[str] = []
    for kind, label in (("action", "action_id"), ("view", "callback_id")):
        ids = [e for e in emitted if e.kind == kind]
        for matcher in listeners.of(kind):
            if not any(matcher.matches(e.id) for e in ids):
                problems.append(
                    f"a listener waits for {label} {matcher.text!r} but slack/blocks.py never "
                    "emits it"
                )
        for e in ids:
            if e.needs_listener and not any(m.matches(e.id) for m in listeners.of(kind)):
                problems.append(
                    f"slack/blocks.py emits {label} {e.id!r} ({e.where}) but no listener in "
                    "slack/listeners.py handles it"
                )
    return problems


def check(
    sources: dict[str, str], listeners_source: str, blocks_source: str, manifest: dict[str, Any]
) -> list[str]:
    listeners = listeners_in(listeners_source, string_constants(blocks_source))
    return scope_problems(sources, manifest, listeners) + id_problems(
        listeners, emitted_in(blocks_source)
    )


# --- the real code --------------------------------------------------------------------------------


def real_check(**overrides: Any) -> list[str]:
    args = {
        "sources": source_files(),
        "listeners_source": LISTENERS.read_text(),
        "blocks_source": BLOCKS.read_text(),
        "manifest": load_manifest(),
    }
    args.update(overrides)
    return check(**args)


def test_manifest_matches_the_code() -> None:
    assert real_check() == []


def test_the_checker_sees_the_calls_and_listeners_we_know_about() -> None:
    calls = set().union(*(api_calls(s) for s in source_files().values()))
    assert {"chat.postMessage", "chat.update", "chat.postEphemeral", "views.open"} <= calls
    assert {"views.publish", "auth.test"} <= calls
    listeners = listeners_in(LISTENERS.read_text(), string_constants(BLOCKS.read_text()))
    assert {m.text for m in listeners.of("action")} >= {
        "approve_action",
        "reject_action",
        "edit_action",
    }
    assert {m.text for m in listeners.of("view")} == {"reject_reason", "edit_action_submit"}
    assert {m.text for m in listeners.of("event")} == {"app_home_opened"}


def test_client_method_names_map_to_api_methods() -> None:
    methods = client_methods()
    assert methods["chat_postMessage"] == "chat.postMessage"
    assert methods["views_publish"] == "views.publish"
    assert methods["users_lookupByEmail"] == "users.lookupByEmail"
    assert methods["auth_test"] == "auth.test"


def test_manifest_shape() -> None:
    manifest = load_manifest()
    settings = manifest["settings"]
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["interactivity"]["request_url"] == "https://YOUR-HOST/slack/events"
    assert settings["event_subscriptions"]["request_url"] == "https://YOUR-HOST/slack/events"
    assert "app_home_opened" in settings["event_subscriptions"]["bot_events"]
    assert settings["socket_mode_enabled"] is False
    home = manifest["features"]["app_home"]
    assert home["home_tab_enabled"] is True
    # listeners DM a user who clicked in App Home: the Messages tab must exist
    assert home["messages_tab_enabled"] is True
    info = manifest["display_information"]
    assert len(info["name"]) <= 35 and len(info.get("description", "")) <= 140
    assert 175 <= len(info["long_description"]) <= 4000  # Slack's limits for the App Directory
    assert manifest["features"]["bot_user"]["display_name"]


def test_emitted_ids_are_what_the_builders_really_render() -> None:
    """The static scan of blocks.py agrees with what its builders output."""
    import datetime as dt

    from slack import blocks

    static = {(e.kind, e.id) for e in emitted_in(BLOCKS.read_text())}
    now = dt.datetime(2026, 1, 1, 12, 0)
    rendered: set[tuple[str, str]] = set()

    def collect(value: Any) -> None:
        if isinstance(value, dict):
            if "action_id" in value:
                rendered.add(("action", value["action_id"]))
            if "callback_id" in value:
                rendered.add(("view", value["callback_id"]))
            for item in value.values():
                collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)

    for action_type in ("refund", "transfer"):
        for status in ("pending", "approved", "rejected", "expired"):
            view = blocks.RequestView(
                action_id="act_1",
                action_type=action_type,
                conversation_id="cnv_1",
                parameters={"amount": 1000},
                draft_body="Hello",
                status=status,
                created_at=now,
                expires_at=now,
            )
            collect(blocks.request_blocks(view))
            collect(blocks.reject_modal(view).to_dict())
            collect(blocks.edit_modal(view).to_dict())
            collect(blocks.home_view([view], now).to_dict())
    assert rendered <= static
    assert ("action", blocks.APPROVE) in rendered and ("view", blocks.EDIT_CALLBACK) in rendered


# --- the checker catches drift -------------------------------------------------------------------

BLOCKS_SRC = """
APPROVE = "approve_action"
def buttons(view):
    return ActionsBlock(elements=[
        ButtonElement(text="Approve", action_id=APPROVE, value=view.id),
        ButtonElement(text="Open", action_id="open_link", url=view.url),
    ])
def modal(view):
    return View(type="modal", callback_id="why", blocks=[
        InputBlock(block_id="b", element=PlainTextInputElement(action_id="reason_input")),
    ])
"""
LISTENERS_SRC = """
def register(app, config):
    app.action(blocks.APPROVE)(ack=ack_only, lazy=[approve])
    app.view("why")(ack=ack_only, lazy=[submit])
    app.event("app_home_opened")(ack=ack_only, lazy=[home])
"""
CALLS_SRC = """
def post(client, channel):
    client.chat_postMessage(channel=channel, text="hi")
    client.views_publish(user_id="U1", view={})
"""
MANIFEST_MIN = {
    "oauth_config": {"scopes": {"bot": ["chat:write"]}},
    "settings": {"event_subscriptions": {"bot_events": ["app_home_opened"]}},
}


def synthetic(
    calls: str = CALLS_SRC,
    listeners: str = LISTENERS_SRC,
    blocks: str = BLOCKS_SRC,
    manifest: dict[str, Any] | None = None,
) -> list[str]:
    return check({"x.py": calls}, listeners, blocks, manifest or MANIFEST_MIN)


def test_checker_passes_the_consistent_synthetic_app() -> None:
    assert synthetic() == []


def one(problems: Iterable[str], *fragments: str) -> str:
    found = [p for p in problems if all(f in p for f in fragments)]
    assert len(found) == 1, list(problems)
    return found[0]


def test_checker_reports_a_new_web_api_call_whose_scope_is_missing() -> None:
    problems = synthetic(CALLS_SRC + "\n\ndef who(c):\n    return c.users_info(user='U1')\n")
    one(problems, "x.py calls users.info", "users:read", "slack/manifest.yml")


def test_checker_reports_a_method_missing_from_the_table() -> None:
    problems = synthetic(CALLS_SRC + "\n\ndef h(c):\n    c.conversations_replies(channel='C1')\n")
    one(problems, "conversations.replies", "METHOD_SCOPES")
    problems = synthetic(CALLS_SRC + "\n\ndef h(c):\n    c.api_call('bookmarks.add')\n")
    one(problems, "bookmarks.add", "METHOD_SCOPES")


def test_checker_reports_an_unused_scope() -> None:
    manifest = {**MANIFEST_MIN, "oauth_config": {"scopes": {"bot": ["chat:write", "users:read"]}}}
    one(synthetic(manifest=manifest), "users:read", "nothing needs it")


def test_checker_reports_a_listener_for_an_id_nobody_emits() -> None:
    listeners = LISTENERS_SRC + '    app.action("escalate_action")(ack=ack_only)\n'
    one(synthetic(listeners=listeners), "'escalate_action'", "never emits")
    listeners = LISTENERS_SRC + '    app.view(re.compile("edit_.*"))(ack=ack_only)\n'
    one(synthetic(listeners=listeners), "'edit_.*'", "never emits")


def test_checker_reports_a_button_or_modal_without_listener() -> None:
    blocks = BLOCKS_SRC + (
        "\ndef more(v):\n"
        '    return [ButtonElement(text="Snooze", action_id="snooze_action", value=v),\n'
        '            View(type="modal", callback_id="snooze_modal", blocks=[])]\n'
    )
    problems = synthetic(blocks=blocks)
    one(problems, "'snooze_action'", "no listener")
    one(problems, "'snooze_modal'", "no listener")
    # link buttons and modal inputs need none
    assert not [p for p in problems if "open_link" in p or "reason_input" in p]


def test_checker_reports_an_event_not_subscribed_and_a_subscription_without_listener() -> None:
    listeners = LISTENERS_SRC + '    app.event("app_mention")(ack=ack_only)\n'
    problems = synthetic(listeners=listeners)
    one(problems, "app_mention", "bot_events")
    one(problems, "app_mention", "app_mentions:read")
    manifest = {**MANIFEST_MIN, "settings": {"event_subscriptions": {"bot_events": []}}}
    one(synthetic(manifest=manifest), "app_home_opened", "bot_events")
    manifest = {
        **MANIFEST_MIN,
        "settings": {"event_subscriptions": {"bot_events": ["app_home_opened", "app_mention"]}},
    }
    one(synthetic(manifest=manifest), "app_mention", "no listener")


@pytest.mark.parametrize("registration", ["app.message('hi')(f)", "app.action(some_function())(f)"])
def test_checker_refuses_what_it_cannot_read(registration: str) -> None:
    listeners = LISTENERS_SRC + f"    {registration}\n"
    assert any("app." in p for p in synthetic(listeners=listeners))


def test_checker_on_the_real_code_reports_an_added_call() -> None:
    sources = source_files()
    sources["slack/extra.py"] = "def f(client):\n    client.users_info(user='U1')\n"
    one(real_check(sources=sources), "slack/extra.py calls users.info", "users:read")
