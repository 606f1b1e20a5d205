"""Indexes found by benchmarks/scale.py: upcoming windows by (status, end_ts), pending outbox rows by id.

With 100,000 stored proposals ``/maintenance list`` took 30-40 ms (it walked every approved window in history)
and, on SQLite, the delivery worker's claim query 11 ms (it scanned every delivered message); with these both
stay under about 1 ms at any size.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

PENDING = "delivered_at IS NULL AND abandoned_at IS NULL"


def upgrade() -> None:
    op.create_index("ix_proposals_status_end_ts", "proposals", ["status", "end_ts"])
    op.create_index(
        "ix_outbox_pending_id",
        "outbox",
        ["id"],
        postgresql_where=sa.text(PENDING),
        sqlite_where=sa.text(PENDING),
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_pending_id", table_name="outbox")
    op.drop_index("ix_proposals_status_end_ts", table_name="proposals")
