"""Open, validate and write the results database.

`open_store` accepts a SQLAlchemy URL (``sqlite:///x.db``, ``postgresql://…``) or a plain
path; a path that is a directory (or ends with a slash) gets ``melt.db`` inside it. It
refuses files that are not melt databases rather than adding tables to someone's data.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, insert, inspect, select, update
from sqlalchemy.exc import DatabaseError, OperationalError

from melt.errors import MeltError
from melt.store import schema
from melt.store.timestamps import ENCODING, decode, encode

DEFAULT_STORE = "melt-results/melt.db"
SQLITE_HEADER = b"SQLite format 3\x00"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")


def _sqlite_path(spec: str) -> Path:
    """An existing file is the database; an existing folder, or a new path without a
    database suffix, is a folder holding melt.db."""
    path = Path(spec).expanduser()
    if path.is_file():
        return path
    if path.is_dir() or path.suffix.lower() not in SQLITE_SUFFIXES:
        return path / "melt.db"
    return path


def _check_sqlite_file(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MeltError(
            f"cannot create the results store at '{path}' ({exc.strerror or exc}); "
            "pass --store with a writable path"
        ) from None
    if path.exists() and path.stat().st_size > 0:
        with path.open("rb") as fh:
            header = fh.read(len(SQLITE_HEADER))
        if header != SQLITE_HEADER:
            raise MeltError(
                f"'{path}' is not a melt results database (not an SQLite file); "
                "pass --store a new path or an existing melt database"
            )


def open_store(spec: str | None = None) -> Store:
    """Open (creating if needed) the store named by a URL or path."""
    spec = spec or DEFAULT_STORE
    if "://" in spec:
        url = spec
        if spec.startswith("sqlite:///"):
            _check_sqlite_file(Path(spec.removeprefix("sqlite:///")))
    else:
        path = _sqlite_path(spec)
        _check_sqlite_file(path)
        url = f"sqlite:///{path}"
    try:
        engine = create_engine(url)
    except Exception as exc:
        raise MeltError(f"cannot open results store '{spec}' ({exc}); check --store") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    store = Store(engine, spec)
    store.initialise()
    return store


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class Store:
    def __init__(self, engine: Engine, spec: str) -> None:
        self.engine = engine
        self.spec = spec

    def initialise(self) -> None:
        try:
            names = set(inspect(self.engine).get_table_names())
            if names and "melt_meta" not in names:
                raise MeltError(
                    f"'{self.spec}' is a database but not a melt results database "
                    f"(it has tables {', '.join(sorted(names)[:5])} and no melt_meta); "
                    "pass --store a new path"
                )
            schema.metadata.create_all(self.engine)
            with self.engine.begin() as conn:
                version = conn.execute(
                    select(schema.melt_meta.c.value).where(schema.melt_meta.c.key == "schema")
                ).scalar()
                if version is None:
                    conn.execute(
                        insert(schema.melt_meta).values(key="schema", value=schema.SCHEMA_VERSION)
                    )
                elif version != schema.SCHEMA_VERSION:
                    raise MeltError(
                        f"results store '{self.spec}' has schema version {version}, this melt "
                        f"writes version {schema.SCHEMA_VERSION}; pass --store a new path"
                    )
        except OperationalError as exc:
            raise MeltError(
                f"cannot write the results store '{self.spec}' ({exc.orig}); "
                "pass --store with a writable path"
            ) from None
        except DatabaseError as exc:
            raise MeltError(
                f"'{self.spec}' is not a melt results database ({exc.orig}); "
                "pass --store a new path"
            ) from None

    # --- writing -------------------------------------------------------------------------

    def create_experiment(self, name: str, command: str, config: Mapping[str, Any]) -> int:
        with self.engine.begin() as conn:
            result = conn.execute(
                insert(schema.experiments).values(
                    created_at=now_iso(), name=name, command=command, config=dict(config)
                )
            )
            return int(result.inserted_primary_key[0])

    def environment_id(self, facts: Mapping[str, Any]) -> int:
        """Id of the environment row with these facts, inserting it the first time."""
        fingerprint = hashlib.sha256(
            json.dumps(facts, sort_keys=True, default=str).encode()
        ).hexdigest()
        table = schema.environments
        with self.engine.begin() as conn:
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

    def create_run(self, **columns: Any) -> int:
        with self.engine.begin() as conn:
            result = conn.execute(
                insert(schema.runs).values(status="running", started_at=now_iso(), **columns)
            )
            return int(result.inserted_primary_key[0])

    def update_run(self, run_id: int, **columns: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(schema.runs).where(schema.runs.c.id == run_id).values(**columns))

    def finish_run(
        self, run_id: int, status: str, error: str | None = None, **columns: Any
    ) -> None:
        self.update_run(run_id, status=status, error=error, ended_at=now_iso(), **columns)

    def add_turn(self, run_id: int, token_ns: list[int] | tuple[int, ...], **columns: Any) -> int:
        """Insert one turn and its token timestamps in one transaction (committed)."""
        with self.engine.begin() as conn:
            result = conn.execute(insert(schema.turns).values(run_id=run_id, **columns))
            turn_id = int(result.inserted_primary_key[0])
            conn.execute(
                insert(schema.token_timestamps).values(
                    turn_id=turn_id, count=len(token_ns), encoding=ENCODING, data=encode(token_ns)
                )
            )
            return turn_id

    # --- reading -------------------------------------------------------------------------

    def list_runs(self, limit: int = 50) -> list[dict[str, Any]]:
        runs = schema.runs
        query = select(runs).order_by(runs.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def run(self, run_id: int) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(select(schema.runs).where(schema.runs.c.id == run_id)).first()
            if row is None:
                raise MeltError(f"no run with id {run_id} in '{self.spec}' (see 'melt runs list')")
            out = dict(row._mapping)
            env = conn.execute(
                select(schema.environments).where(schema.environments.c.id == out["environment_id"])
            ).first()
            out["environment"] = dict(env._mapping) if env else None
            return out

    def runs_of_experiment(self, experiment_id: int) -> list[dict[str, Any]]:
        runs = schema.runs
        query = select(runs).where(runs.c.experiment_id == experiment_id).order_by(runs.c.id)
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def turns(self, run_id: int, with_tokens: bool = False) -> list[dict[str, Any]]:
        turns, stamps = schema.turns, schema.token_timestamps
        query = select(turns).where(turns.c.run_id == run_id).order_by(turns.c.id)
        with self.engine.connect() as conn:
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
