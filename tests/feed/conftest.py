from __future__ import annotations

from dbs import db_backend, db_url, store

__all__ = ["db_backend", "db_url", "store"]
