"""Open, validate and write the results database.

`open_store` accepts a SQLAlchemy URL (``sqlite:///x.db``, ``postgresql://…``) or a plain
path (store/location.py). Commands that only read open with ``create=False`` and never make
a store; commands that write open with ``write=True``, which refuses an in-memory store and
proves with a real write that the store takes writes before any work starts. Every write
goes through `Store.write`: one transaction, retried within a bounded window while another
process holds the lock or a PostgreSQL server melt reached is gone (store/retry.py); any
other failure is one line (store/failures.py). A run whose final status cannot be written
is journaled and marked `abandoned`, with the reason, by the store's next open
(store/unfinished.py). No secret reaches a row: commands, configs and run columns are
masked on the way in (melt/secrets.py).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from melt import interrupts
from melt.errors import MeltError
from melt.secrets import mask_data, mask_text
from melt.store import migrate, schema, sqlite, unfinished
from melt.store.failures import (
    GIVE_UP,
    StoreError,
    StoreUnavailable,
    connect_error,
    reason,
    wait_kind,
    write_error,
)
from melt.store.liveness import ABANDONED, RUNNING, this_process, with_liveness
from melt.store.location import (
    DEFAULT_STORE,
    StoreLocation,
    check_driver,
    check_sqlite_file,
    has_pending_wal,
    immutable,
    locate,
    on_read_only_filesystem,
)
from melt.store.retry import OutOfPatience, Patience, window_from_env
from melt.store.timestamps import ENCODING, decode, encode

log = logging.getLogger(__name__)
T = TypeVar("T")

__all__ = ["DEFAULT_STORE", "Store", "now_iso", "open_store"]

MAX_ROW_ID = 2**63 - 1  # SQLite's and PostgreSQL's largest integer key


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def environment_fingerprint(facts: Mapping[str, Any]) -> str:
    """The key of an environment row: sha256 of its facts as sorted JSON."""
    return hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode()).hexdigest()


def open_store(spec: str | None = None, *, write: bool = False, create: bool = True) -> Store:
    """Open the store named by a URL or path, its schema brought up to date.

    `write`: the command will write; refuse an in-memory store and prove that a write
    commits (`Store.check_writable`) before returning. `create`: make the store if it does
    not exist (read commands pass False and get "no results store at ...")."""
    location = locate(spec)
    window_s = window_from_env()
    if write and location.in_memory:
        raise MeltError(
            f"--store '{location.shown}' is an in-memory database: everything written to it "
            "is lost when melt exits; pass --store a file path or a postgresql:// URL"
        )
    check_driver(location)
    check_sqlite_file(location, create or write)
    read_only = on_read_only_filesystem(location)
    if read_only:
        if write:
            raise StoreError(
                f"cannot write the results store '{location.shown}' (its filesystem is "
                "read-only); pass --store with a writable path"
            )
        if not has_pending_wal(location):
            location = immutable(location)
    store = Store(_engine(location), location, window_s)
    try:
        store.prepare(create or write)
        store.reached = True
        if write:
            store.check_writable()
        if not read_only:
            unfinished.settle(location.key, store.abandon)
    except BaseException:
        store.engine.dispose()  # a refused store keeps no connection pool open
        raise
    return store


def _engine(location: StoreLocation, foreign_keys: bool = True) -> Engine:
    if location.dialect == "sqlite":
        engine = create_engine(location.url, connect_args=sqlite.connect_args())
        sqlite.configure(engine, foreign_keys=foreign_keys)
        return engine
    # A server that does not answer (a host down, not refusing) fails a connection attempt
    # in seconds, so the retry window bounds the wait (a URL's own connect_timeout wins).
    connect_args = {} if "connect_timeout" in location.url.query else {"connect_timeout": 10}
    return create_engine(location.url, pool_pre_ping=True, connect_args=connect_args)


class Store:
    def __init__(
        self, engine: Engine, location: StoreLocation, window_s: float | None = None
    ) -> None:
        self.engine = engine
        self.location = location
        self.spec = location.shown
        self.patience = Patience(window_from_env() if window_s is None else window_s)
        # Once the schema was read, a lost PostgreSQL connection is waited for, not refused.
        self.reached = False

    # --- connections and transactions ----------------------------------------------------

    def _failure(self, exc: OperationalError, writing: bool, connected: bool) -> StoreError:
        """One line for a failure no wait helps, by what was being done."""
        if not connected and self.location.dialect != "sqlite":
            return connect_error(self.spec, exc)
        if writing or not connected:
            action = "write" if writing else "open"
            return write_error(self.spec, exc, self.location.sqlite_path, action)
        return StoreUnavailable(
            f"cannot read the results store '{self.spec}' ({reason(exc)}); check --store"
        )

    def _patiently(self, fn: Callable[[Connection], T], engine: Engine | None = None) -> T:
        """`fn` in a connection of its own (in a committed write transaction on `engine`
        when one is given), retried within the store's window while another process holds
        the lock or, once the store was reached, its server is gone (store/retry.py); any
        other database failure, and a wait that ran out, is one line (store/failures.py)."""
        writing = engine is not None
        connected = False

        def attempt() -> T:
            nonlocal connected
            connected = False
            with interrupts.deferred():
                conn = (engine or self.engine).connect()
                connected = True
                if not writing:
                    with conn:
                        return fn(conn)
                conn = conn.execution_options(**{sqlite.WRITE_OPTION: True})
                with conn, conn.begin():
                    return fn(conn)

        dialect = self.location.dialect
        try:
            return self.patience.run(attempt, lambda e: wait_kind(e, dialect, self.reached))
        except OutOfPatience as out:
            raise GIVE_UP[out.kind](self.spec, out.cause, out.attempts, out.waited_s) from None
        except OperationalError as exc:
            raise self._failure(exc, writing, connected) from None

    def read(self, fn: Callable[[Connection], T]) -> T:
        return self._patiently(fn)

    def write(self, fn: Callable[[Connection], T], engine: Engine | None = None) -> T:
        """Run `fn` in one committed write transaction (on `engine`, the store's own by
        default), retried while the store is busy or its server briefly gone."""
        return self._patiently(fn, engine or self.engine)

    def prepare(self, create: bool) -> None:
        """Create, upgrade or accept the schema (store/migrate.py); read-only when the
        schema is current already."""
        current = self.read(lambda conn: migrate.revision_of(conn, self.spec))
        if current == migrate.head():
            return
        if current is None and not create:
            raise MeltError(
                f"no results store at '{self.spec}' (the database has no melt tables; "
                "run melt bench first or pass --store)"
            )
        # SQLite rebuilds a table to alter a column: foreign key checks off while it does.
        engine = (
            _engine(self.location, foreign_keys=False)
            if self.location.dialect == "sqlite"
            else None
        )
        try:
            self.write(lambda conn: migrate.bring_up_to_date(conn, self.location, create), engine)
        finally:
            if engine is not None:
                engine.dispose()

    def check_writable(self) -> None:
        """Prove that a write commits here: insert a scratch row and delete it, committed
        (a rolled-back write may never reach the disk, and so would prove nothing)."""
        meta = schema.melt_meta
        key = f"write-check-{os.getpid()}-{time.monotonic_ns()}"

        def scratch(conn: Connection) -> None:
            conn.execute(insert(meta).values(key=key, value=now_iso()))
            conn.execute(delete(meta).where(meta.c.key == key))

        self.write(scratch)

    # --- writing -------------------------------------------------------------------------

    def create_experiment(self, name: str, command: str, config: Mapping[str, Any]) -> int:
        row = {
            "created_at": now_iso(),
            "name": name,
            "command": mask_text(command),
            "config": mask_data(dict(config)),
        }
        return self.write(
            lambda conn: int(
                conn.execute(insert(schema.experiments).values(**row)).inserted_primary_key[0]
            )
        )

    def environment_id(self, facts: Mapping[str, Any]) -> int:
        """Id of the environment row with these facts, inserting it the first time."""
        fingerprint = environment_fingerprint(facts)
        table = schema.environments

        def find_or_insert(conn: Connection) -> int:
            found = conn.execute(
                select(table.c.id).where(table.c.fingerprint == fingerprint)
            ).scalar()
            if found is not None:
                return int(found)
            columns = {c.name for c in table.columns} - {"id", "fingerprint", "facts"}
            result = conn.execute(
                insert(table).values(
                    fingerprint=fingerprint,
                    facts=dict(facts),
                    **{k: facts.get(k) for k in columns},
                )
            )
            return int(result.inserted_primary_key[0])

        try:
            return self.write(find_or_insert)
        except IntegrityError:  # another writer inserted the same facts first (PostgreSQL)
            return self.write(find_or_insert)

    def create_run(self, **columns: Any) -> int:
        """A `running` run row naming this process as its writer (store/liveness.py)."""
        now = now_iso()
        row = {"status": "running", "started_at": now, "heartbeat_at": now}
        row.update(this_process())
        row.update(mask_data(columns))
        return self.write(
            lambda conn: int(
                conn.execute(insert(schema.runs).values(**row)).inserted_primary_key[0]
            )
        )

    def update_run(self, run_id: int, **columns: Any) -> None:
        runs = schema.runs
        values = mask_data(columns)
        self.write(
            lambda conn: conn.execute(
                update(runs).where(runs.c.id == run_id).values(heartbeat_at=now_iso(), **values)
            )
        )

    def heartbeat(self, run_id: int, conn: Connection | None = None) -> None:
        """Record that the run's writer is alive (every turn and sample batch does)."""
        runs = schema.runs
        statement = update(runs).where(runs.c.id == run_id).values(heartbeat_at=now_iso())
        if conn is not None:
            conn.execute(statement)
        else:
            self.write(lambda c: c.execute(statement))

    def finish_run(
        self, run_id: int, status: str, error: str | None = None, **columns: Any
    ) -> None:
        """Give a run its final status. When the store cannot take it, the run is journaled
        for the next open to mark abandoned, and `StoreUnavailable` says so in one line."""
        ended_at = now_iso()
        try:
            self.update_run(run_id, status=status, error=error, ended_at=ended_at, **columns)
        except StoreUnavailable as exc:
            raise unfinished.left_unfinished(
                self.location.key, self.spec, run_id, status, mask_data(error), exc, ended_at
            ) from None

    def abandon(self, entry: unfinished.Unfinished) -> None:
        """Mark a journaled run abandoned, with why its writer could not finish it; only
        while it is still `running` as written by that writer."""
        runs = schema.runs
        statement = (
            update(runs)
            .where(
                runs.c.id == entry.run_id,
                runs.c.status == RUNNING,
                runs.c.pid == entry.pid,
                runs.c.host == entry.host,
            )
            .values(status=ABANDONED, error=mask_text(entry.abandoned_error()), ended_at=entry.at)
        )
        self.write(lambda conn: conn.execute(statement))

    def add_turn(self, run_id: int, token_ns: list[int] | tuple[int, ...], **columns: Any) -> int:
        """Insert one turn and its token timestamps in one transaction (committed)."""

        def insert_turn(conn: Connection) -> int:
            result = conn.execute(insert(schema.turns).values(run_id=run_id, **columns))
            turn_id = int(result.inserted_primary_key[0])
            conn.execute(
                insert(schema.token_timestamps).values(
                    turn_id=turn_id, count=len(token_ns), encoding=ENCODING, data=encode(token_ns)
                )
            )
            self.heartbeat(run_id, conn)
            return turn_id

        return self.write(insert_turn)

    def add_tool_rows(
        self, run_id: int, tool: str, argv: Sequence[str], rows: Sequence[Mapping[str, Any]]
    ) -> None:
        """Store the rows one call of a llama.cpp tool measured beside a run, with the
        command it was given (`tool_rows`), in one transaction."""
        values = [
            {"run_id": run_id, "tool": tool, "argv": mask_data(list(argv)), **row} for row in rows
        ]
        if values:
            self.write(lambda conn: conn.execute(insert(schema.tool_rows), values))

    # --- reading -------------------------------------------------------------------------

    def list_runs(self, limit: int | None = 50) -> list[dict[str, Any]]:
        """The newest `limit` runs (all with None), `status` `abandoned` for a run no
        process is writing any more."""
        if limit is not None and limit < 1:
            raise MeltError(f"--limit must be at least 1 (got {limit})")
        runs = schema.runs
        query = select(runs).order_by(runs.c.id.desc()).limit(limit)
        return self.read(
            lambda conn: [with_liveness(dict(row._mapping)) for row in conn.execute(query)]
        )

    def run(self, run_id: int) -> dict[str, Any]:
        missing = MeltError(f"no run with id {run_id} in '{self.spec}' (see 'melt runs list')")
        if not 0 < run_id <= MAX_ROW_ID:
            raise missing

        def fetch(conn: Connection) -> dict[str, Any]:
            row = conn.execute(select(schema.runs).where(schema.runs.c.id == run_id)).first()
            if row is None:
                raise missing
            out = with_liveness(dict(row._mapping))
            env = conn.execute(
                select(schema.environments).where(schema.environments.c.id == out["environment_id"])
            ).first()
            out["environment"] = dict(env._mapping) if env else None
            return out

        return self.read(fetch)

    def runs_of_experiment(self, experiment_id: int) -> list[dict[str, Any]]:
        runs = schema.runs
        query = select(runs).where(runs.c.experiment_id == experiment_id).order_by(runs.c.id)
        return self.read(
            lambda conn: [with_liveness(dict(row._mapping)) for row in conn.execute(query)]
        )

    def turns(self, run_id: int, with_tokens: bool = False) -> list[dict[str, Any]]:
        turns, stamps = schema.turns, schema.token_timestamps
        query = select(turns).where(turns.c.run_id == run_id).order_by(turns.c.id)

        def fetch(conn: Connection) -> list[dict[str, Any]]:
            rows = [dict(row._mapping) for row in conn.execute(query)]
            if with_tokens:
                blobs = {
                    r.turn_id: decode(r.data, r.encoding)
                    for r in conn.execute(
                        select(stamps).where(stamps.c.turn_id.in_([row["id"] for row in rows]))
                    )
                }
                for row in rows:
                    row["token_ns"] = blobs.get(row["id"], [])
            return rows

        return self.read(fetch)

    def tool_rows(self, run_ids: Sequence[int]) -> list[dict[str, Any]]:
        """The llama.cpp tools' rows stored beside these runs, in the order they were stored."""
        table = schema.tool_rows
        query = select(table).where(table.c.run_id.in_(list(run_ids))).order_by(table.c.id)
        return self.read(lambda conn: [dict(row._mapping) for row in conn.execute(query)])
