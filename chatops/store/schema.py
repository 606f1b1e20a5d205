"""The tables, in one place: the store's queries use them and the migrations must produce exactly them.

``tests/store/test_migrations.py`` checks that the migrated schema matches :data:`metadata`
(``alembic.autogenerate.compare_metadata`` reports no difference), so a change here needs a new migration.

Times are POSIX seconds (``BigInteger``); JSON documents are stored as canonical JSON in ``Text`` columns.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

proposals = Table(
    "proposals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("idempotency_key", String(200), nullable=True),
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("rollback_plan", Text, nullable=False),
    Column("ticket_url", Text, nullable=False),
    Column("proposer", String(64), nullable=False),
    Column("channel", String(64), nullable=False),
    Column("input_tz", String(64), nullable=False),
    Column("start_ts", BigInteger, nullable=False),
    Column("end_ts", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("flagged", Boolean, nullable=False),
    Column("approvals_required", Integer, nullable=False),
    Column("round", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("message_ts", String(32), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    # The services the change touches, comma-separated ("" when none).
    Column("services", Text, nullable=False, server_default=text("''")),
    # An emergency starts at once for an incident; its follow-up review is open until reviewed_by is set.
    Column("emergency", Boolean, nullable=False, server_default=false()),
    Column("incident_url", Text, nullable=False, server_default=text("''")),
    Column("reviewed_by", String(64), nullable=True),
    Column("reviewed_at", BigInteger, nullable=True),
    # The evaluation snapshot (about 90 KB with the shipped regions) is last: on SQLite the columns before it are
    # read without walking its overflow pages (migration 0007). '{}' only because SQLite appends a NOT NULL
    # column with a default; every proposal is stored with its evaluation.
    Column("evaluation", Text, nullable=False, server_default=text("'{}'")),
    # NULLs never collide in a unique index (SQLite and PostgreSQL alike): the key is unique where it is set.
    Index("ix_proposals_idempotency_key", "idempotency_key", unique=True),
    Index("ix_proposals_status_start_ts", "status", "start_ts"),
    # /maintenance list: (status IN (pending, approved), end_ts > now) finds only the windows still to come;
    # by start_ts alone it would walk every approved window in history (benchmarks/scale.py).
    Index("ix_proposals_status_end_ts", "status", "end_ts"),
)

approvals = Table(
    "approvals",
    metadata,
    # A surrogate key keeps the approval order on every backend (SQLite autoincrements only an INTEGER PRIMARY
    # KEY); (proposal_id, round, approver) is the natural key, enforced by the unique constraint.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("proposal_id", Integer, ForeignKey("proposals.id"), nullable=False),
    Column("round", Integer, nullable=False),
    Column("approver", String(64), nullable=False),
    Column("at", BigInteger, nullable=False),
    UniqueConstraint("proposal_id", "round", "approver"),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # NULL for events about no single change (sensitive periods declared or lifted).
    Column("proposal_id", Integer, ForeignKey("proposals.id"), nullable=True),
    Column("seq", Integer, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("data", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    # One chain over every event: gseq numbers them 1, 2, 3… and, from hash version 2 on, prev_hash is the
    # hash of the event before in gseq order. Version 1 events (before the global chain) chain per change.
    Column("gseq", BigInteger, nullable=False),
    Column("hash_version", Integer, nullable=False, server_default=text("1")),
    # The actor's display name as Slack reported it at the moment (users.info); NULL when unknown.
    Column("actor_name", Text, nullable=True),
    UniqueConstraint("proposal_id", "seq"),
    Index("ix_events_at", "at"),
    Index("ix_events_gseq", "gseq", unique=True),
)

# Signed checkpoints: (gseq, hash) of the chain's head after each committed change, with an HMAC made with a
# key from the settings that is never stored in the database. Each checkpoint's MAC covers the previous one's.
checkpoints = Table(
    "checkpoints",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("gseq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("key_id", String(16), nullable=False),
    Column("prev_mac", String(64), nullable=False),
    Column("mac", String(64), nullable=False),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("proposal_id", Integer, ForeignKey("proposals.id"), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", BigInteger, nullable=False),
    Column("delivered_at", BigInteger, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("leased_until", BigInteger, nullable=True),
    Column("abandoned_at", BigInteger, nullable=True),
    # The claim query looks for a proposal's pending messages (neither delivered nor abandoned) in id order.
    Index(
        "ix_outbox_pending",
        "proposal_id",
        "id",
        postgresql_where=text("delivered_at IS NULL AND abandoned_at IS NULL"),
        sqlite_where=text("delivered_at IS NULL AND abandoned_at IS NULL"),
    ),
    # The claim query walks pending messages in id order; without this SQLite scans every delivered row too.
    Index(
        "ix_outbox_pending_id",
        "id",
        postgresql_where=text("delivered_at IS NULL AND abandoned_at IS NULL"),
        sqlite_where=text("delivered_at IS NULL AND abandoned_at IS NULL"),
    ),
)

# Sensitive periods declared from Slack by admins, on top of those in the regions file. Rows are never
# deleted: lifting one sets lifted_at/lifted_by, so the table is its own record of who declared and lifted
# what.
sensitive_periods = Table(
    "sensitive_periods",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("region_id", String(64), nullable=False),
    Column("start_date", String(10), nullable=False),
    Column("end_date", String(10), nullable=False),
    Column("reason", Text, nullable=False),
    Column("declared_by", String(64), nullable=False),
    Column("declared_at", BigInteger, nullable=False),
    Column("lifted_by", String(64), nullable=True),
    Column("lifted_at", BigInteger, nullable=True),
    Index("ix_sensitive_periods_end_date", "end_date"),
)

# The reminders a change has in Slack (``chat.scheduleMessage``), one row per kind: ``scheduled_message_id`` is
# Slack's id while it is scheduled there; NULL while the reminder waits to come within Slack's 120 days.
# ``refreshed_at`` is set when the parent message was refreshed at the reminder's moment.
reminders = Table(
    "reminders",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("proposal_id", Integer, ForeignKey("proposals.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("post_at", BigInteger, nullable=False),
    Column("channel", String(64), nullable=False),
    Column("scheduled_message_id", String(64), nullable=True),
    Column("scheduled_at", BigInteger, nullable=True),
    Column("refreshed_at", BigInteger, nullable=True),
    UniqueConstraint("proposal_id", "kind"),
    Index("ix_reminders_post_at", "post_at"),
    Index("ix_reminders_channel_scheduled_at", "channel", "scheduled_at"),
)
