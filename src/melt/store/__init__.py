"""The results database: SQLAlchemy Core over SQLite by default, PostgreSQL by URL
(DESIGN.md: Storage)."""

from melt.store.db import DEFAULT_STORE, Store, open_store
from melt.store.failures import StoreError, StoreUnavailable

__all__ = ["DEFAULT_STORE", "Store", "StoreError", "StoreUnavailable", "open_store"]
