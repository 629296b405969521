"""What a database error means for the user, in one line, and whether a write that met it
may be tried again (another process held the lock, a serialization conflict)."""

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
LOW_SPACE_BYTES = 1 << 20


class StoreError(MeltError):
    """The results store cannot be reached or written: one line naming it and the fix."""


def reason(exc: BaseException) -> str:
    """The driver's message on one line."""
    orig = getattr(exc, "orig", None) or exc
    return re.sub(r"\s+", " ", str(orig)).strip()


def is_transient(exc: DBAPIError) -> bool:
    if getattr(exc.orig, "sqlstate", None) in POSTGRES_RETRY:
        return True
    text = reason(exc).lower()
    return any(busy in text for busy in SQLITE_BUSY)


def connect_error(shown: str, exc: BaseException) -> StoreError:
    return StoreError(
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
        return StoreError(
            f"cannot {action} the results store '{shown}' ({text}); "
            "free space on its disk or pass --store a path elsewhere"
        )
    return StoreError(
        f"cannot {action} the results store '{shown}' ({text}); pass --store with a writable path"
    )


def locked_error(shown: str, attempts: int, waited_s: float) -> StoreError:
    return StoreError(
        f"the results store '{shown}' stayed locked by another process ({attempts} attempts "
        f"over {waited_s:.0f} s); stop the other writer or pass --store another path"
    )
