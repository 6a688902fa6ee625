"""The tables (ARCHITECTURE.md §4) as SQLAlchemy 2 typed models.

Timestamps are naive UTC ``DateTime`` values (MySQL DATETIME has no time zone); ``utcnow()`` makes
them. Status changes are single conditional UPDATEs in ``support.approvals``, never read-then-write.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class App(Base):
    """A product app whose support inbox this service works."""

    __tablename__ = "apps"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    front_inbox_id: Mapped[str] = mapped_column(String(64), unique=True)
    integration_base_url: Mapped[str] = mapped_column(String(500))
    integration_secret: Mapped[str] = mapped_column(String(200))
    slack_channel: Mapped[str | None] = mapped_column(String(64), default=None)
    # Action types that need a human decision; None = every risky action (the safe default).
    approval_required: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    # Largest refund an approver may set in the Edit modal is the original amount; this caps it too.
    max_refund_amount: Mapped[float | None] = mapped_column(Float, default=None)
    auto_send_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Action(Base):
    """Something the agent proposed or did on a conversation."""

    __tablename__ = "actions"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(64), index=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id"), index=True)
    type: Mapped[str] = mapped_column(String(40))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    requires_approval: Mapped[bool] = mapped_column(Boolean, default=True)
    # proposed | pending_approval | approved | rejected | expired | executing | succeeded | failed
    status: Mapped[str] = mapped_column(String(20), default="proposed", index=True)
    reasoning: Mapped[str] = mapped_column(Text, default="")
    draft_body: Mapped[str | None] = mapped_column(Text, default=None)
    customer_email: Mapped[str | None] = mapped_column(String(320), default=None)
    context_degraded: Mapped[bool] = mapped_column(Boolean, default=False)
    executed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, default=None)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ApprovalRequest(Base):
    """The human decision on one action; its id is the action's id."""

    __tablename__ = "approval_requests"
    id: Mapped[str] = mapped_column(ForeignKey("actions.id"), primary_key=True)
    # pending | approved | rejected | expired
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    decided_by: Mapped[str | None] = mapped_column(String(64), default=None)
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime, default=None)
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    edits: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    slack_channel: Mapped[str | None] = mapped_column(String(64), default=None)
    slack_ts: Mapped[str | None] = mapped_column(String(32), default=None)
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime, default=None)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime, default=None)
    reminded_at: Mapped[dt.datetime | None] = mapped_column(DateTime, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class AuditLog(Base):
    """Append-only record of what happened, who did it and when."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    action_id: Mapped[str | None] = mapped_column(String(40), index=True, default=None)
    conversation_id: Mapped[str | None] = mapped_column(String(64), index=True, default=None)
    event: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)


class TrustScore(Base):
    """How far the agent's drafts can be trusted for one app and category (the auto-send gate)."""

    __tablename__ = "trust_scores"
    __table_args__ = (UniqueConstraint("app_id", "category"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id"))
    category: Mapped[str] = mapped_column(String(64))
    score: Mapped[float] = mapped_column(Float, default=0.0)
    samples: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class Draft(Base):
    """A Front draft this service wrote, keyed so that one run writes it once (``support.drafts``).

    ``id`` is a deterministic key (``inbound:<front event id>``, ``revise:<action id>``): the row
    is written before the Front call (``creating``) and completed after it (``created`` with
    ``front_draft_id``), so a retried step finds it instead of writing a second draft.
    """

    __tablename__ = "drafts"
    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(64), index=True)
    app_id: Mapped[int | None] = mapped_column(ForeignKey("apps.id"), default=None)
    action_id: Mapped[str | None] = mapped_column(String(40), default=None, index=True)
    # creating | created | sent
    status: Mapped[str] = mapped_column(String(20), default="creating")
    channel_id: Mapped[str | None] = mapped_column(String(64), default=None)
    front_draft_id: Mapped[str | None] = mapped_column(String(64), default=None)
    body: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str | None] = mapped_column(String(64), default=None)
    confidence: Mapped[float | None] = mapped_column(Float, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime, default=None)
