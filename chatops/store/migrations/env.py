"""Alembic environment for the store, configured in code (no alembic.ini).

:func:`chatops.store.migrate.upgrade` opens the transaction (and, on PostgreSQL, takes the advisory lock),
then hands its connection over in ``config.attributes["connection"]``; migrations run inside that transaction.
"""

from __future__ import annotations

from alembic import context

from chatops.store.schema import metadata


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through chatops.store.migrate, which supplies the connection")
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported")
run_migrations_online()
