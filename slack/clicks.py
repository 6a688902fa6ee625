"""A click or modal submission read from Slack's payload (``Click``), and who may decide
(``allowed``). A button's ``value`` is only a hint: the decision counts only for the message the row
names, and only for an approver of the expected workspace."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from support.config import Config


@dataclass(kw_only=True)
class Click:
    """Who acted, on which action (a hint), from where.

    ``message``: the (channel, ts) of the request message the click came from (or, for a modal,
    the one it was opened from, carried in the ``private_metadata`` we set); the decision only
    counts if the action's row names that message (``approvals.decide(message=...)``).
    ``unbound``: why the click cannot be tied to its action (refused, nothing changes).
    """

    user_id: str
    team_id: str | None
    action_id: str
    channel: str | None
    from_home: bool
    message_ts: str | None = None
    unbound: str | None = None

    @property
    def message(self) -> tuple[str, str] | None:
        if self.from_home or not (self.channel and self.message_ts):
            return None
        return self.channel, self.message_ts

    @classmethod
    def from_action(cls, body: dict[str, Any]) -> Click:
        action = body["actions"][0]
        container = body.get("container") or {}
        action_id = str(action.get("value") or "")
        from_home = container.get("type") == "view"
        channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
        message_ts = container.get("message_ts") or (body.get("message") or {}).get("ts")
        unbound = None
        if from_home:
            # App Home: the view is ours (Slack sends us clicks on our views only); the action
            # must be one it lists.
            if action_id not in listed_actions(body.get("view") or {}):
                unbound = "the action is not listed in this view"
        elif not (channel and message_ts):
            unbound = "the click names no message"
        return cls(
            user_id=str(body["user"]["id"]),
            team_id=_team(body),
            action_id=action_id,
            channel=str(channel) if channel else None,
            from_home=from_home,
            message_ts=str(message_ts) if message_ts else None,
            unbound=unbound,
        )

    @classmethod
    def from_view(cls, body: dict[str, Any]) -> Click:
        bound = parse_modal_metadata(str(body["view"].get("private_metadata") or ""))
        return cls(
            user_id=str(body["user"]["id"]),
            team_id=_team(body),
            action_id=bound.get("action_id", ""),
            channel=bound.get("channel"),
            from_home=False,
            message_ts=bound.get("ts"),
        )


def listed_actions(view: dict[str, Any]) -> set[str]:
    """Action ids of the Approve / Reject / Edit buttons in a view (App Home)."""
    found: set[str] = set()
    for block in view.get("blocks") or []:
        if isinstance(block, dict) and block.get("type") == "actions":
            for element in block.get("elements") or []:
                if isinstance(element, dict) and element.get("value"):
                    found.add(str(element["value"]))
    return found


def modal_metadata(action_id: str, message: tuple[str, str] | None) -> str:
    """The ``private_metadata`` of a Reject / Edit modal: the action and the message it is for."""
    if message is None:
        return json.dumps({"action_id": action_id})
    return json.dumps({"action_id": action_id, "channel": message[0], "ts": message[1]})


def parse_modal_metadata(raw: str) -> dict[str, str]:
    """``modal_metadata`` read back; a bare action id is what modals carried before."""
    try:
        data = json.loads(raw) if raw.startswith("{") else {"action_id": raw}
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: str(v) for k, v in data.items() if k in ("action_id", "channel", "ts") and v}


def _team(body: dict[str, Any]) -> str | None:
    team = body.get("team") or {}
    found = team.get("id") or body.get("team_id") or (body.get("user") or {}).get("team_id")
    return str(found) if found else None


def allowed(config: Config, user_id: str, team_id: str | None) -> bool:
    if config.slack_team_id and team_id != config.slack_team_id:
        return False
    return not config.slack_approver_ids or user_id in config.slack_approver_ids
