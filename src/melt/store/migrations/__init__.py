"""Alembic migrations of the results store (revision ids are melt schema versions)."""
