"""Saved names for run references (`melt runs name baseline exp:3`): a name is kept in the
store next to the runs it points at, so every session on that store reads it the same way.

A name is never something a run id or ``exp:ID`` could be (it starts with a letter or ``_``
and holds no ``:``), so looking one up never shadows a run.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Connection, insert, select, update

from melt.errors import MeltError
from melt.store import schema
from melt.store.db import Store, now_iso

NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
MAX_NAME_CHARS = 100


def is_name(text: str) -> bool:
    """Whether `text` has the shape of a saved name (it may still not be saved)."""
    return len(text) <= MAX_NAME_CHARS and NAME_PATTERN.fullmatch(text) is not None


def check_name(text: str) -> str:
    if not is_name(text):
        raise MeltError(
            f"'{text}' is not a valid run name: start with a letter or _, then letters, digits, "
            f"_ . - (at most {MAX_NAME_CHARS}), so it never reads as a run id or exp:ID"
        )
    return text


def save_name(store: Store, name: str, reference: str) -> str | None:
    """Point `name` at `reference` (a canonical ``12`` or ``exp:3``); the reference it
    pointed at before, None when it is new."""
    table = schema.run_names
    check_name(name)

    def upsert(conn: Connection) -> str | None:
        before = conn.execute(select(table.c.reference).where(table.c.name == name)).scalar()
        row = {"reference": reference, "created_at": now_iso()}
        if before is None:
            conn.execute(insert(table).values(name=name, **row))
        else:
            conn.execute(update(table).where(table.c.name == name).values(**row))
        return before

    return store.write(upsert)


def saved_reference(store: Store, name: str) -> str | None:
    table = schema.run_names
    query = select(table.c.reference).where(table.c.name == name)
    return store.read(lambda conn: conn.execute(query).scalar())


def saved_names(store: Store) -> list[dict[str, Any]]:
    """Every saved name, alphabetical: name, reference, created_at (UTC)."""
    table = schema.run_names
    query = select(table).order_by(table.c.name)
    return store.read(lambda conn: [dict(row._mapping) for row in conn.execute(query)])
