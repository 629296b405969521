"""What a database error means for the user, in one line, and whether an operation that met
it may be tried again: another process holds the lock or a serialization conflict
(`LOCKED`), or the connection to a PostgreSQL server was lost (`UNREACHABLE`, a server
restarting or a network blip). store/retry.py waits both out within one window."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from sqlalchemy.exc import DBAPIError

from melt.errors import MeltError

# SQLite's messages for a lock another connection holds; PostgreSQL's SQLSTATEs for a
# serialization failure, a deadlock and a lock not available.
SQLITE_BUSY = ("database is locked", "database table is locked", "database is busy")
POSTGRES_RETRY = ("40001", "40P01", "55P03")
# PostgreSQL's SQLSTATE classes and codes for a connection that is gone or refused: class 08
# (connection exception), admin/crash shutdown and "cannot connect now" (starting up or
# shutting down). A failed connection attempt carries no SQLSTATE: libpq's message says.
POSTGRES_GONE_CLASS = "08"
POSTGRES_GONE = ("57P01", "57P02", "57P03")
POSTGRES_GONE_TEXT = (
    "connection refused",
    "connection failed",
    "server closed the connection",
    "terminating connection",
    "the database system is",
    "consuming input failed",
    "connection is lost",
    "the connection is closed",
    "no connection to the server",
    "could not receive data",
    "could not send data",
    "connection timeout expired",
)
LOCKED = "locked"
UNREACHABLE = "unreachable"
RETRY_WINDOW_ENV = "MELT_STORE_RETRY_S"  # how long store/retry.py waits, in seconds
LOW_SPACE_BYTES = 1 << 20


class StoreError(MeltError):
    """The results store cannot be reached or written: one line naming it and the fix."""


class StoreUnavailable(StoreError):
    """A store that was opened cannot take a read or write any more (its server stayed away
    past the retry window, its disk is full, another process kept the lock): one line naming
    the store and the cause. From `Store.finish_run` it also means the run is journaled
    (store/unfinished.py) and the store's next open marks it abandoned: a run's executor
    catches it where the run ends and reports it."""


def reason(exc: BaseException) -> str:
    """The driver's message on one line."""
    orig = getattr(exc, "orig", None) or exc
    return re.sub(r"\s+", " ", str(orig)).strip()


def is_transient(exc: DBAPIError) -> bool:
    """Another writer is in the way (a lock, a serialization conflict): try again."""
    if getattr(exc.orig, "sqlstate", None) in POSTGRES_RETRY:
        return True
    text = reason(exc).lower()
    return any(busy in text for busy in SQLITE_BUSY)


def is_connection_lost(exc: DBAPIError) -> bool:
    """The PostgreSQL server went away or refuses connections for now."""
    if exc.connection_invalidated:
        return True
    state = getattr(exc.orig, "sqlstate", None) or ""
    if state.startswith(POSTGRES_GONE_CLASS) or state in POSTGRES_GONE:
        return True
    text = reason(exc).lower()
    return not state and any(gone in text for gone in POSTGRES_GONE_TEXT)


def wait_kind(exc: BaseException, dialect: str, reached: bool) -> str | None:
    """`LOCKED` or `UNREACHABLE` when the failed operation may be retried, else None. A lost
    connection is waited for only on a server melt has reached before (`reached`): at open
    a wrong host or port is one line at once."""
    if not isinstance(exc, DBAPIError):
        return None
    if is_transient(exc):
        return LOCKED
    if reached and dialect == "postgresql" and is_connection_lost(exc):
        return UNREACHABLE
    return None


def connect_error(shown: str, exc: BaseException) -> StoreError:
    return StoreUnavailable(
        f"cannot connect to the results store '{shown}' ({reason(exc)}); "
        "check that the server is running and the --store URL"
    )


def filesystem_state(path: Path | None) -> str | None:
    """What the filesystem holding an SQLite store says about writing (SQLite itself often
    reports only "disk I/O error" or "unable to open database file")."""
    if path is None:
        return None
    folder = path.parent
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return "its filesystem is read-only"
        free = shutil.disk_usage(folder).free
    except OSError:
        return None
    return f"{free} bytes free on its filesystem" if free < LOW_SPACE_BYTES else None


def write_error(
    shown: str, exc: BaseException, path: Path | None = None, action: str = "write"
) -> StoreError:
    text = reason(exc)
    state = filesystem_state(path)
    if state:
        text = f"{text}; {state}"
    if "full" in text.lower() or "free on its" in text:
        return StoreUnavailable(
            f"cannot {action} the results store '{shown}' ({text}); "
            "free space on its disk or pass --store a path elsewhere"
        )
    return StoreUnavailable(
        f"cannot {action} the results store '{shown}' ({text}); pass --store with a writable path"
    )


def locked_error(shown: str, _exc: BaseException, attempts: int, waited_s: float) -> StoreError:
    return StoreUnavailable(
        f"the results store '{shown}' stayed locked by another process ({attempts} attempts "
        f"over {waited_s:.0f} s); stop the other writer or pass --store another path"
    )


def unreachable_error(shown: str, exc: BaseException, attempts: int, waited_s: float) -> StoreError:
    return StoreUnavailable(
        f"lost the connection to the results store '{shown}' and it did not come back "
        f"({attempts} attempts over {waited_s:.0f} s; {reason(exc)}); check that the server "
        f"is running ({RETRY_WINDOW_ENV} sets how long melt waits)"
    )


# What a wait that ran out of its window says, by what it waited for.
GIVE_UP = {LOCKED: locked_error, UNREACHABLE: unreachable_error}
