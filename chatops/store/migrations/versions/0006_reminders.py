"""Reminders scheduled in Slack for approved changes.

Revision ID: 0006_reminders
Revises: 0005_services_emergencies
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_reminders"
down_revision: str | None = "0005_services_emergencies"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "reminders",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("post_at", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("scheduled_message_id", sa.String(64), nullable=True),
        sa.Column("scheduled_at", sa.BigInteger(), nullable=True),
        sa.Column("refreshed_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_reminders"),
        sa.ForeignKeyConstraint(["proposal_id"], ["proposals.id"], name="fk_reminders_proposal_id_proposals"),
        sa.UniqueConstraint("proposal_id", "kind", name="uq_reminders_proposal_id_kind"),
    )
    op.create_index("ix_reminders_post_at", "reminders", ["post_at"])
    op.create_index("ix_reminders_channel_scheduled_at", "reminders", ["channel", "scheduled_at"])


def downgrade() -> None:
    op.drop_table("reminders")
