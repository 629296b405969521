"""Bring a store's schema to the one this melt writes, with Alembic (melt/store/migrations).

A new store gets today's tables and is stamped with the head revision. A store of an older
schema is upgraded in place, in one locked transaction, after a copy of an SQLite file is
kept next to it (``melt.db.schema-2.bak``); a PostgreSQL store is upgraded in one
transaction (PostgreSQL's DDL is transactional: a failed upgrade leaves it as it was).
A store written by a newer melt, or a database that is not melt's, is refused.

Revision ids are melt schema versions ("2" is the baseline, the schema before Alembic).
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, insert, inspect, select, text, update

from melt.errors import MeltError
from melt.extras import install_hint
from melt.store import schema
from melt.store.location import StoreLocation

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
# Any constant shared by every melt: concurrent openers of one PostgreSQL store queue here.
POSTGRES_LOCK_KEY = 0x6D656C74


def config(conn: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    return cfg


def scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(config())


def head() -> str:
    return str(scripts().get_current_head())


def revision_of(conn: Connection, shown: str) -> str | None:
    """The schema revision of the database behind `conn`; None when it has no melt tables
    yet. Refuses a database that holds someone else's tables."""
    names = set(inspect(conn).get_table_names())
    if not names:
        return None
    if "melt_meta" not in names:
        raise MeltError(
            f"'{shown}' is a database but not a melt results database "
            f"(it has tables {', '.join(sorted(names)[:5])} and no melt_meta); "
            "pass --store a new path"
        )
    current = MigrationContext.configure(conn).get_current_revision()
    if current is not None:
        return current
    meta = schema.melt_meta
    return conn.execute(select(meta.c.value).where(meta.c.key == "schema")).scalar()


def check_known(revision: str, shown: str) -> None:
    known = {s.revision for s in scripts().walk_revisions()}
    if revision in known:
        return
    if revision.isdigit() and int(revision) < int(head()):
        raise MeltError(
            f"results store '{shown}' has schema version {revision}, older than this melt "
            f"can upgrade (oldest {min(known, key=int)}); pass --store a new path"
        )
    raise MeltError(
        f"results store '{shown}' was written by a newer melt (schema {revision}, this melt "
        f"knows up to {head()}); upgrade melt ({install_hint(upgrade=True)}) or pass --store "
        "another path"
    )


def backup_path(path: Path, revision: str) -> Path:
    """Next to the store, never over an earlier copy."""
    candidate = path.with_name(f"{path.name}.schema-{revision}.bak")
    n = 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}.schema-{revision}.{n}.bak")
    return candidate


def keep_copy(path: Path, revision: str) -> Path:
    """A consistent copy of an SQLite store (its WAL included), made with SQLite's backup."""
    target = backup_path(path, revision)
    try:
        source = sqlite3.connect(path)
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)
        finally:
            copy.close()
            source.close()
    except (sqlite3.Error, OSError) as exc:
        target.unlink(missing_ok=True)
        raise MeltError(
            f"cannot keep a copy of '{path}' at '{target}' before upgrading it ({exc}); "
            "free space next to it, or upgrade a copy you made and pass --store that"
        ) from None
    return target


def _create(conn: Connection, current: str) -> None:
    schema.metadata.create_all(conn)
    command.stamp(config(conn), current)
    meta = schema.melt_meta
    found = conn.execute(select(meta.c.key).where(meta.c.key == "schema")).scalar()
    if found is None:
        conn.execute(insert(meta).values(key="schema", value=current))
    else:
        conn.execute(update(meta).where(meta.c.key == "schema").values(value=current))


def bring_up_to_date(conn: Connection, location: StoreLocation, create: bool) -> None:
    """Under the store's write lock (held by `conn`'s transaction): create, upgrade, or
    leave the schema as it is."""
    if location.dialect == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": POSTGRES_LOCK_KEY})
    current = head()
    revision = revision_of(conn, location.shown)
    if revision == current:
        return
    if revision is None:
        if not create:
            raise MeltError(
                f"no results store at '{location.shown}' (the database has no melt tables; "
                "run melt bench first or pass --store)"
            )
        _create(conn, current)
        return
    check_known(revision, location.shown)
    if location.sqlite_path is not None:
        copy = keep_copy(location.sqlite_path, revision)
        log.warning(
            "upgrading results store '%s' from schema %s to %s; the previous file is kept at %s",
            location.shown,
            revision,
            current,
            copy,
        )
    else:
        log.warning(
            "upgrading results store '%s' from schema %s to %s in one transaction",
            location.shown,
            revision,
            current,
        )
    command.upgrade(config(conn), current)
