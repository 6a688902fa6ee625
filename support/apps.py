"""The registry of product apps: which Front inbox belongs to which app and how to reach it.

The operator's lifecycle (``flask --app app apps add|update|rotate-secret|remove``) lives here;
every change after ``add`` appends an ``app.*`` row to the audit log (never the secret).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from typing import Any, NotRequired, TypedDict, Unpack

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from support import audit, db
from support.db.models import Action, App, ApprovalRequest, Draft, TrustScore

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
INBOX = re.compile(r"^inb_[A-Za-z0-9]+$")
CHANNEL = re.compile(r"^[CG][A-Z0-9]{2,}$")
"""A Slack channel id: C... (public) or G... (private), uppercase letters and digits."""
URL = re.compile(r"^https?://[^/\s?#]+(/\S*)?$")
MIN_SECRET = 16
OPERATOR = "ops:cli"


class AppError(ValueError):
    """A registration that cannot be saved; the message says which field and why."""


class AppNotFound(AppError):
    pass


class NewApp(TypedDict):
    """What ``add`` registers (the CLI's ``apps add`` options, by these names)."""

    slug: str
    name: str
    front_inbox_id: str
    integration_base_url: str
    integration_secret: str
    slack_channel: NotRequired[str | None]


class AppFields(TypedDict, total=False):
    """Any of an app's fields, to check (None or absent: not given, not checked)."""

    slug: str | None
    name: str | None
    front_inbox_id: str | None
    integration_base_url: str | None
    integration_secret: str | None
    slack_channel: str | None


def _problems(**fields: Unpack[AppFields]) -> list[str]:
    """What is wrong with each given field (None = not given, not checked)."""
    slug, name = fields.get("slug"), fields.get("name")
    front_inbox_id = fields.get("front_inbox_id")
    integration_base_url = fields.get("integration_base_url")
    integration_secret, slack_channel = (
        fields.get("integration_secret"),
        fields.get("slack_channel"),
    )
    problems = []
    if slug is not None and not SLUG.match(slug):
        problems.append("slug must be lowercase letters, digits and dashes")
    if name is not None and not name.strip():
        problems.append("name must not be empty")
    if front_inbox_id is not None and not INBOX.match(front_inbox_id):
        problems.append("front inbox id must look like inb_xxx")
    if integration_base_url is not None and not URL.match(integration_base_url):
        problems.append(
            "integration url must be an http(s) URL without spaces, e.g. https://acme.example.com"
        )
    if integration_secret is not None and len(integration_secret) < MIN_SECRET:
        problems.append(f"integration secret must be at least {MIN_SECRET} characters")
    if slack_channel is not None and not CHANNEL.match(slack_channel):
        problems.append(
            f"slack channel {slack_channel!r} is not a channel id (C... or G..., uppercase; "
            "in Slack: the channel's name → About → Channel ID)"
        )
    return problems


def _collisions(s: Session, slug: str | None, inbox: str | None, *, besides: int | None) -> str:
    """Which of slug and inbox another app already has, as a sentence ('' when none)."""
    taken = []
    if slug is not None:
        other = s.scalar(select(App).where(App.slug == slug))
        if other is not None and other.id != besides:
            taken.append(f"slug {slug!r} already exists (app id {other.id})")
    if inbox is not None:
        other = s.scalar(select(App).where(App.front_inbox_id == inbox))
        if other is not None and other.id != besides:
            taken.append(f"inbox {inbox!r} already exists: it belongs to app {other.slug!r}")
    return "; ".join(taken)


def add(**fields: Unpack[NewApp]) -> App:
    """Register an app (checked first: ``AppError`` names each bad field and any collision)."""
    problems = _problems(**fields)
    slug, front_inbox_id = fields["slug"], fields["front_inbox_id"]
    if problems:
        raise AppError("; ".join(problems))
    try:
        with db.session() as s:
            taken = _collisions(s, slug, front_inbox_id, besides=None)
            if taken:
                raise AppError(taken)
            app = App(
                **{
                    **fields,
                    "name": fields["name"].strip(),
                    "integration_base_url": fields["integration_base_url"].rstrip("/"),
                },
                auto_send_enabled=False,
            )
            s.add(app)
            s.flush()
            return app
    except IntegrityError as exc:  # another process registered it between our check and insert
        with db.session() as s:
            taken = _collisions(s, slug, front_inbox_id, besides=None)
        raise AppError(taken or f"app {slug!r} could not be saved: {exc.orig}") from exc


def by_slug(slug: str) -> App:
    with db.session() as s:
        app = s.scalar(select(App).where(App.slug == slug))
        if app is None:
            raise AppNotFound(f"no app with slug {slug!r} (see `flask --app app apps list`)")
        return app


UNSET = ""
"""``update(slack_channel=UNSET)`` clears the app's channel (the default channel is used)."""


def update(
    slug: str,
    *,
    name: str | None = None,
    front_inbox_id: str | None = None,
    integration_base_url: str | None = None,
    slack_channel: str | None = None,
    auto_send_enabled: bool | None = None,
) -> dict[str, Any]:
    """Change the given fields (None = keep); returns ``{field: [old, new]}`` of what changed."""
    problems = _problems(
        name=name,
        front_inbox_id=front_inbox_id,
        integration_base_url=integration_base_url,
        slack_channel=slack_channel or None,
    )
    if problems:
        raise AppError("; ".join(problems))
    wanted: dict[str, Any] = {
        "name": name.strip() if name is not None else None,
        "front_inbox_id": front_inbox_id,
        "integration_base_url": (
            integration_base_url.rstrip("/") if integration_base_url is not None else None
        ),
        "slack_channel": slack_channel,
        "auto_send_enabled": auto_send_enabled,
    }
    try:
        with db.session() as s:
            app = s.scalar(select(App).where(App.slug == slug))
            if app is None:
                raise AppNotFound(f"no app with slug {slug!r} (see `flask --app app apps list`)")
            taken = _collisions(s, None, front_inbox_id, besides=app.id)
            if taken:
                raise AppError(taken)
            changes: dict[str, Any] = {}
            for field, value in wanted.items():
                if value is None:
                    continue
                if field == "slack_channel" and value == UNSET:
                    value = None
                old = getattr(app, field)
                if old != value:
                    changes[field] = [old, value]
                    setattr(app, field, value)
            if changes:
                audit.append_in(
                    s, "app.updated", actor=OPERATOR, detail={"slug": slug, "changes": changes}
                )
            return changes
    except IntegrityError as exc:
        raise AppError(f"inbox {front_inbox_id!r} belongs to another app") from exc


def rotate_secret(slug: str) -> str:
    """A new random integration secret for the app, saved and returned (shown once)."""
    secret = secrets.token_urlsafe(32)
    with db.session() as s:
        app = s.scalar(select(App).where(App.slug == slug))
        if app is None:
            raise AppNotFound(f"no app with slug {slug!r} (see `flask --app app apps list`)")
        app.integration_secret = secret
        audit.append_in(s, "app.secret_rotated", actor=OPERATOR, detail={"slug": slug})
    return secret


def pending_approvals(app_id: int) -> list[str]:
    """Action ids of the app's approval requests still waiting for a decision."""
    with db.session() as s:
        return list(
            s.scalars(
                select(ApprovalRequest.id)
                .join(Action, Action.id == ApprovalRequest.id)
                .where(Action.app_id == app_id, ApprovalRequest.status == "pending")
                .order_by(ApprovalRequest.created_at)
            )
        )


def history(app_id: int) -> dict[str, int]:
    """How many rows of each kind refer to the app (what ``remove`` deletes with it)."""
    with db.session() as s:
        return {
            "actions": s.scalar(select(func.count()).where(Action.app_id == app_id)) or 0,
            "drafts": s.scalar(select(func.count()).where(Draft.app_id == app_id)) or 0,
            "trust scores": s.scalar(select(func.count()).where(TrustScore.app_id == app_id)) or 0,
        }


def remove(slug: str) -> dict[str, int]:
    """Delete the app and the rows that refer to it, in one transaction; the audit log keeps the
    trail of every action (it has no foreign keys). Refused while an approval is pending: the
    caller expires those first (``apps remove --force``). Returns what was deleted."""
    with db.session() as s:
        app = s.scalar(select(App).where(App.slug == slug))
        if app is None:
            raise AppNotFound(f"no app with slug {slug!r} (see `flask --app app apps list`)")
        action_ids = select(Action.id).where(Action.app_id == app.id)
        pending = s.scalar(
            select(func.count()).where(
                ApprovalRequest.id.in_(action_ids), ApprovalRequest.status == "pending"
            )
        )
        if pending:
            raise AppError(f"app {slug!r} has {pending} pending approval(s)")
        counts = {
            "actions": s.scalar(select(func.count()).where(Action.app_id == app.id)) or 0,
            "drafts": s.scalar(select(func.count()).where(Draft.app_id == app.id)) or 0,
        }
        s.execute(delete(ApprovalRequest).where(ApprovalRequest.id.in_(action_ids)))
        s.execute(delete(Draft).where(Draft.app_id == app.id))
        s.execute(delete(Action).where(Action.app_id == app.id))
        s.execute(delete(TrustScore).where(TrustScore.app_id == app.id))
        audit.append_in(
            s,
            "app.removed",
            actor=OPERATOR,
            detail={
                "slug": slug,
                "name": app.name,
                "inbox": app.front_inbox_id,
                "integrationUrl": app.integration_base_url,
                "deleted": counts,
            },
        )
        s.delete(app)
        return counts


def all_apps() -> list[App]:
    with db.session() as s:
        return list(s.scalars(select(App).order_by(App.slug)))


def get(app_id: int) -> App | None:
    with db.session() as s:
        return s.get(App, app_id)


# Built once, with a bind parameter: an equality lookup on the unique index, no IN list to expand.
_OWNER = select(App.id).where(App.front_inbox_id == bindparam("inbox"))


def inbox_owner(inbox_ids: Iterable[str]) -> tuple[int, str] | None:
    """(app id, inbox id) for the first of ``inbox_ids`` that is registered, or None.

    What the Front door needs per webhook, read fresh every time (apps can be re-registered by
    another process at any moment, so nothing is cached): one equality query per inbox id, in
    order, until one is registered (a Front message arrives in one inbox: one query). On MySQL it
    runs on ``db.reader()`` (autocommit, no pre-ping): the query is the only round trip. A
    connection the server dropped (a restart) fails the query; the read is retried once on a fresh
    connection, so the webhook still succeeds.
    """
    ids = [i for i in inbox_ids if i]
    if not ids:
        return None
    try:
        return _first_owner(ids)
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        return _first_owner(ids)


def _first_owner(ids: list[str]) -> tuple[int, str] | None:
    with db.reader().connect() as conn:
        for inbox_id in ids:
            app_id = conn.execute(_OWNER, {"inbox": inbox_id}).scalar()
            if app_id is not None:
                return int(app_id), inbox_id
    return None
