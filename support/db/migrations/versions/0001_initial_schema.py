"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-25 13:08:07.162865
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

INDEXES = {
    "audit_log": ("action_id", "conversation_id", "created_at"),
    "actions": ("app_id", "conversation_id", "status"),
    "approval_requests": ("status",),
}
"""The indexed columns of each table (one index each, ``ix_<table>_<column>``), created in order."""


def _create_table(name: str, *items: sa.SchemaItem) -> None:
    """The table with its primary key ``pk_<table>`` on ``id``, then its ``INDEXES``."""
    op.create_table(name, *items, sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")))
    if name in INDEXES:
        with op.batch_alter_table(name, schema=None) as batch_op:
            for column in INDEXES[name]:
                batch_op.create_index(batch_op.f(f"ix_{name}_{column}"), [column], unique=False)


def _drop_table(name: str) -> None:
    """The table's ``INDEXES`` (last first), then the table."""
    if name in INDEXES:
        with op.batch_alter_table(name, schema=None) as batch_op:
            for column in reversed(INDEXES[name]):
                batch_op.drop_index(batch_op.f(f"ix_{name}_{column}"))
    op.drop_table(name)


def _references(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    """``table.column`` -> ``target.id``, named ``fk_<table>_<column>_<target>``."""
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}")
    )


def _serial_id() -> sa.Column:
    return sa.Column("id", sa.Integer(), autoincrement=True, nullable=False)


def _created_at() -> sa.Column:
    return sa.Column("created_at", sa.DateTime(), nullable=False)


def upgrade() -> None:
    _create_table(
        "apps",
        _serial_id(),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("front_inbox_id", sa.String(length=64), nullable=False),
        sa.Column("integration_base_url", sa.String(length=500), nullable=False),
        sa.Column("integration_secret", sa.String(length=200), nullable=False),
        sa.Column("slack_channel", sa.String(length=64), nullable=True),
        sa.Column("approval_required", sa.JSON(), nullable=True),
        sa.Column("max_refund_amount", sa.Float(), nullable=True),
        sa.Column("auto_send_enabled", sa.Boolean(), nullable=False),
        _created_at(),
        sa.UniqueConstraint("front_inbox_id", name=op.f("uq_apps_front_inbox_id")),
        sa.UniqueConstraint("slug", name=op.f("uq_apps_slug")),
    )
    _create_table(
        "audit_log",
        _serial_id(),
        sa.Column("action_id", sa.String(length=40), nullable=True),
        sa.Column("conversation_id", sa.String(length=64), nullable=True),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        _created_at(),
    )
    _create_table(
        "actions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("conversation_id", sa.String(length=64), nullable=False),
        sa.Column("app_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("requires_approval", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reasoning", sa.Text(), nullable=False),
        sa.Column("draft_body", sa.Text(), nullable=True),
        sa.Column("customer_email", sa.String(length=320), nullable=True),
        sa.Column("context_degraded", sa.Boolean(), nullable=False),
        sa.Column("executed_at", sa.DateTime(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        _created_at(),
        _references("actions", "app_id", "apps"),
    )
    _create_table(
        "trust_scores",
        _serial_id(),
        sa.Column("app_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        _references("trust_scores", "app_id", "apps"),
        sa.UniqueConstraint("app_id", "category", name=op.f("uq_trust_scores_app_id")),
    )
    _create_table(
        "approval_requests",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("edits", sa.JSON(), nullable=True),
        sa.Column("slack_channel", sa.String(length=64), nullable=True),
        sa.Column("slack_ts", sa.String(length=32), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.Column("reminded_at", sa.DateTime(), nullable=True),
        _created_at(),
        _references("approval_requests", "id", "actions"),
    )


def downgrade() -> None:
    for name in ("approval_requests", "trust_scores", "actions", "audit_log", "apps"):
        _drop_table(name)
