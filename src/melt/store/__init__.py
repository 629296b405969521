"""The results database: SQLAlchemy Core over SQLite by default (DESIGN.md: Storage)."""

from melt.store.db import DEFAULT_STORE, Store, open_store

__all__ = ["DEFAULT_STORE", "Store", "open_store"]
