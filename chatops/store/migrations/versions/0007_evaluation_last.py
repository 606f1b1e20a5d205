"""A proposal's evaluation snapshot becomes the last column of ``proposals`` on SQLite.

SQLite stores a row's columns in order, and a value larger than a page spills into a chain of overflow pages
that must be walked to reach any column after it. A snapshot is about 90 KB with the 299 regions the app ships
with, so every read of a column after it (``/maintenance list``, the Home tab and the calendar feed read none of
the snapshot) walked some 23 pages a row: listing 50 changes without their snapshots took 1.5 ms of CPU instead
of 0.6 ms (``benchmarks/store_ops.py --snapshot shipped``). Moved last, a row's other columns are read from its
first page.

SQLite appends a column, so the snapshot is copied into a new last column, the old one dropped and the new one
renamed (``ALTER TABLE … DROP COLUMN`` needs SQLite 3.35, ``RENAME COLUMN`` 3.25; with an older SQLite the
column stays where it is); the table itself is kept,
so the foreign keys that point at it are untouched (a table rebuild would trip them). SQLite cannot append a
NOT NULL column without a default: the column's default is ``'{}'``, an empty snapshot, which no insert relies
on (every proposal is stored with its evaluation); schema.py and PostgreSQL declare the same default. PostgreSQL
keeps large values out of line (TOAST) whatever their position, so only the default changes there.

Revision ID: 0007_evaluation_last
Revises: 0006_reminders
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlite3

import sqlalchemy as sa
from alembic import op

revision = "0007_evaluation_last"
down_revision: str | None = "0006_reminders"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        if sqlite3.sqlite_version_info < (3, 35, 0):
            # No DROP COLUMN before 3.35 (the store itself runs on 3.24 and later): the snapshot stays where it
            # is, and only lists read without snapshots are slower; every query names its columns.
            return
        op.execute("ALTER TABLE proposals ADD COLUMN evaluation_last TEXT NOT NULL DEFAULT '{}'")
        op.execute("UPDATE proposals SET evaluation_last = evaluation")
        op.execute("ALTER TABLE proposals DROP COLUMN evaluation")
        op.execute("ALTER TABLE proposals RENAME COLUMN evaluation_last TO evaluation")
    else:
        op.alter_column("proposals", "evaluation", server_default=sa.text("'{}'"))


def downgrade() -> None:
    # The column stays last on SQLite (where it sits changes no query); only the default goes.
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("proposals", "evaluation", server_default=None)
