"""One audit chain over all events, display names, and signed checkpoints.

Events get a global sequence (``gseq``, numbered in the order they were written), a hash version (1 for the
per-change chains written so far, 2 for the global chain) and the actor's display name; ``proposal_id`` may be
NULL for events about no single change (sensitive periods declared or lifted). Checkpoints hold the chain's head
signed with a key that lives outside the database.

Revision ID: 0004_audit_chain
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_audit_chain"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("gseq", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("hash_version", sa.Integer(), nullable=False, server_default=sa.text("1")))
        batch.add_column(sa.Column("actor_name", sa.Text(), nullable=True))
        batch.alter_column("proposal_id", existing_type=sa.Integer(), nullable=True)
    conn = op.get_bind()
    events = sa.table("events", sa.column("id", sa.Integer()), sa.column("gseq", sa.BigInteger()))
    ids = [row.id for row in conn.execute(sa.select(events.c.id).order_by(events.c.id))]
    if ids:
        conn.execute(
            sa.update(events).where(events.c.id == sa.bindparam("b_id")).values(gseq=sa.bindparam("b_gseq")),
            [{"b_id": id_, "b_gseq": n} for n, id_ in enumerate(ids, start=1)],
        )
    with op.batch_alter_table("events") as batch:
        batch.alter_column("gseq", existing_type=sa.BigInteger(), nullable=False)
        batch.create_index("ix_events_gseq", ["gseq"], unique=True)
    op.create_table(
        "checkpoints",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("gseq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("prev_mac", sa.String(64), nullable=False),
        sa.Column("mac", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_checkpoints"),
    )


def downgrade() -> None:
    op.drop_table("checkpoints")
    with op.batch_alter_table("events") as batch:
        batch.drop_index("ix_events_gseq")
        batch.drop_column("actor_name")
        batch.drop_column("hash_version")
        batch.drop_column("gseq")
