"""Services and emergencies: the services a change touches, and whether it is an emergency (with its incident
link and who marked its follow-up review done, and when).

``services`` is the comma-separated list of service names ("" when none); the overlap query reads windows by
time from the (status, end_ts) index and compares services in Python.

Revision ID: 0005_services_emergencies
Revises: 0004_audit_chain
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_services_emergencies"
down_revision: str | None = "0004_audit_chain"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (with constant defaults) on both backends: a batch copy of ``proposals`` on SQLite would
    # trip the foreign keys of the tables that point at it.
    op.add_column("proposals", sa.Column("services", sa.Text(), nullable=False, server_default=sa.text("''")))
    op.add_column(
        "proposals", sa.Column("emergency", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.add_column(
        "proposals", sa.Column("incident_url", sa.Text(), nullable=False, server_default=sa.text("''"))
    )
    op.add_column("proposals", sa.Column("reviewed_by", sa.String(64), nullable=True))
    op.add_column("proposals", sa.Column("reviewed_at", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35 and later), for the same reason as above.
    for column in ("reviewed_at", "reviewed_by", "incident_url", "emergency", "services"):
        op.drop_column("proposals", column)
