"""The registry of product apps: which Front inbox belongs to which app and how to reach it."""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import bindparam, select
from sqlalchemy.exc import DBAPIError, IntegrityError

from support import db
from support.db.models import App

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
INBOX = re.compile(r"^inb_[A-Za-z0-9]+$")


class AppError(ValueError):
    """A registration that cannot be saved; the message says which field and why."""


def add(
    *,
    slug: str,
    name: str,
    front_inbox_id: str,
    integration_base_url: str,
    integration_secret: str,
    slack_channel: str | None = None,
) -> App:
    problems = []
    if not SLUG.match(slug):
        problems.append("slug must be lowercase letters, digits and dashes")
    if not name.strip():
        problems.append("name must not be empty")
    if not INBOX.match(front_inbox_id):
        problems.append("front inbox id must look like inb_xxx")
    if not re.match(r"^https?://[^/\s]+", integration_base_url):
        problems.append("integration url must be an http(s) URL")
    if len(integration_secret) < 16:
        problems.append("integration secret must be at least 16 characters")
    if problems:
        raise AppError("; ".join(problems))
    try:
        with db.session() as s:
            app = App(
                slug=slug,
                name=name.strip(),
                front_inbox_id=front_inbox_id,
                integration_base_url=integration_base_url.rstrip("/"),
                integration_secret=integration_secret,
                slack_channel=slack_channel,
                auto_send_enabled=False,
            )
            s.add(app)
            s.flush()
            return app
    except IntegrityError as exc:
        raise AppError(
            f"an app with slug {slug!r} or inbox {front_inbox_id!r} already exists"
        ) from exc


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
