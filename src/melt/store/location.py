"""Where a results store lives: a `--store` value turned into a SQLAlchemy URL, checked
before anything connects to it.

A plain path or ``sqlite:///path`` is an SQLite file (a folder, or a new path without a
database suffix, holds ``melt.db``); ``postgresql://…`` is a PostgreSQL server reached with
psycopg 3. An in-memory SQLite URL is recognised so that commands that write can refuse it:
nothing written there outlives the process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from melt.errors import MeltError
from melt.extras import install_hint

DEFAULT_STORE = "melt-results/melt.db"
SQLITE_HEADER = b"SQLite format 3\x00"
SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
POSTGRES_DRIVER = "postgresql+psycopg"
POSTGRES_EXTRA = install_hint("postgres")
# The one driver melt talks to each database through: a URL may name it (`postgresql+psycopg`)
# or leave it out, never name another.
DRIVERS = {"sqlite": "pysqlite", "postgresql": "psycopg"}


@dataclass(frozen=True, slots=True)
class StoreLocation:
    """A store's URL, how to name it in messages (no password), and its SQLite file."""

    url: URL
    shown: str
    sqlite_path: Path | None = None
    in_memory: bool = False

    @property
    def dialect(self) -> str:
        return self.url.get_dialect().name

    @property
    def key(self) -> str:
        """What names this store across processes (no password): its SQLite file's real
        path, or its server URL."""
        if self.sqlite_path is not None:
            return f"sqlite:{self.sqlite_path.resolve()}"
        return self.url.render_as_string(hide_password=True)


def _sqlite_path(spec: str) -> Path:
    """An existing file is the database; an existing folder, or a new path without a
    database suffix, is a folder holding melt.db. A folder named like a database
    (``melt.db/``) is the database's path, refused as a directory."""
    path = Path(spec).expanduser()
    if path.is_file() or path.suffix.lower() in SQLITE_SUFFIXES:
        return path
    return path / "melt.db"


def _is_memory(url: URL) -> bool:
    database = url.database or ""
    return (
        database in ("", ":memory:")
        or url.query.get("mode") == "memory"
        or database.startswith("file::memory:")
    )


def locate(spec: str | None) -> StoreLocation:
    """The store a `--store` value names (the default store when it is empty)."""
    spec = spec or DEFAULT_STORE
    if "://" not in spec:
        path = _sqlite_path(spec)
        return StoreLocation(URL.create("sqlite", database=str(path)), str(spec), path)
    try:
        url = make_url(spec)
    except ArgumentError:
        raise MeltError(
            f"--store '{spec}' is not a path or a database URL "
            "(use a path, sqlite:///path/melt.db or postgresql://user@host/db)"
        ) from None
    shown = spec if url.password is None else url.render_as_string(hide_password=True)
    backend = url.get_backend_name()
    _, plus, driver = url.drivername.partition("+")
    if plus and backend in DRIVERS and driver != DRIVERS[backend]:
        raise MeltError(
            f"--store '{shown}': melt reaches {backend} through {DRIVERS[backend]}, not "
            f"'{driver}' (write {backend}:// or {backend}+{DRIVERS[backend]}://)"
        )
    if backend == "sqlite":
        if _is_memory(url):
            return StoreLocation(url, shown, in_memory=True)
        path = _sqlite_path(url.database or "")
        return StoreLocation(url.set(database=str(path)), shown, path)
    if backend == "postgresql":
        return StoreLocation(url.set(drivername=POSTGRES_DRIVER), shown)
    raise MeltError(
        f"--store '{shown}': melt stores results in SQLite or PostgreSQL, not '{backend}' "
        "(use a path or postgresql://user@host/db)"
    )


def on_read_only_filesystem(location: StoreLocation) -> bool:
    path = location.sqlite_path
    if path is None or not path.exists():
        return False
    try:
        return bool(os.statvfs(path.parent).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def has_pending_wal(location: StoreLocation) -> bool:
    """Committed pages still in the ``-wal`` file, which an immutable open would not see."""
    path = location.sqlite_path
    wal = path.with_name(path.name + "-wal") if path else None
    return wal is not None and wal.exists() and wal.stat().st_size > 0


def immutable(location: StoreLocation) -> StoreLocation:
    """The same SQLite file opened as immutable: how SQLite reads a WAL-mode database on a
    read-only filesystem (where it cannot create the ``-shm`` file). Only without a
    pending ``-wal`` file (`has_pending_wal`), whose pages it would not read."""
    assert location.sqlite_path is not None
    url = URL.create(
        "sqlite",
        database=f"file:{location.sqlite_path}",
        query={"immutable": "1", "uri": "true"},
    )
    return replace(location, url=url)


def check_driver(location: StoreLocation) -> None:
    """A PostgreSQL store needs psycopg 3, an optional dependency."""
    if location.dialect != "postgresql":
        return
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise MeltError(
            f"--store '{location.shown}' needs the PostgreSQL driver psycopg 3: {POSTGRES_EXTRA}"
        ) from None


def check_sqlite_file(location: StoreLocation, create: bool) -> None:
    """Refuse what is not a melt SQLite file, and (unless creating) a missing one; make
    the folder of a new store."""
    path = location.sqlite_path
    if location.in_memory:
        if not create:
            raise MeltError(
                f"no results store at '{location.shown}' (an in-memory store is always "
                "empty; pass --store the path of a stored results database)"
            )
        return
    if path is None:
        return
    if path.is_dir():
        raise MeltError(
            f"'{path}' is a directory, not a melt results database; "
            "pass --store a database file or a folder whose melt.db is a file"
        )
    if not path.exists():
        if not create:
            raise MeltError(
                f"no results store at '{location.shown}' (run melt bench first or pass --store)"
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise MeltError(
                f"cannot create the results store at '{path}' ({exc.strerror or exc}); "
                "pass --store with a writable path"
            ) from None
        return
    try:
        with path.open("rb") as fh:
            header = fh.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise MeltError(
            f"cannot read the results store '{path}' ({exc.strerror or exc}); check --store"
        ) from None
    if header and header != SQLITE_HEADER:
        raise MeltError(
            f"'{path}' is not a melt results database (not an SQLite file); "
            "pass --store a new path or an existing melt database"
        )
