"""Accuracy scores in the results store, keyed by the model artifact's sha256 so a report
can join them with the speed and energy runs of the same file."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select

from melt.store import schema
from melt.store.db import Store, now_iso


def add_score(store: Store, **columns: Any) -> int:
    """Insert one score row (committed at once)."""
    row = {"created_at": now_iso(), **columns}
    return store.write(
        lambda conn: int(conn.execute(insert(schema.scores).values(**row)).inserted_primary_key[0])
    )


def scores_for(store: Store, model_sha256: str) -> list[dict[str, Any]]:
    """Every score of one artifact, oldest first."""
    table = schema.scores
    query = select(table).where(table.c.model_sha256 == model_sha256).order_by(table.c.id)
    return store.read(lambda conn: [dict(row._mapping) for row in conn.execute(query)])
