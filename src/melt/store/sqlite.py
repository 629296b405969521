"""How melt talks to an SQLite file: WAL journal (readers never wait for the writer), a
busy timeout (a writer waits for another process's lock instead of failing at once), and
transactions melt begins itself, ``BEGIN IMMEDIATE`` for writes so that a write takes the
lock up front and cannot fail half-way with a stale snapshot."""

from __future__ import annotations

import contextlib
import sqlite3
from typing import Any

from sqlalchemy import Connection, Engine, event

BUSY_TIMEOUT_S = 5.0
WRITE_OPTION = "melt_write"


def connect_args() -> dict[str, Any]:
    return {"timeout": BUSY_TIMEOUT_S}


def configure(engine: Engine, foreign_keys: bool = True) -> None:
    """Install the connection pragmas and melt's own BEGIN on an SQLite engine."""

    def on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # melt emits BEGIN itself (below)
        cursor = dbapi_connection.cursor()
        # A read-only or full store keeps its journal; the write check then says why.
        with contextlib.suppress(sqlite3.OperationalError):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    def on_begin(conn: Connection) -> None:
        writing = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "begin", on_begin)
