"""How a store is opened: what commands that write refuse, what read commands never make,
and the one line each bad location gets."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest

from melt.errors import MeltError
from melt.store import open_store

IN_MEMORY = ("sqlite://", "sqlite:///:memory:", "sqlite:///file::memory:?mode=memory&uri=true")


@pytest.mark.parametrize("url", IN_MEMORY)
def test_in_memory_store_is_refused_for_writing(url: str) -> None:
    with pytest.raises(MeltError, match="in-memory database: everything written to it is lost"):
        open_store(url, write=True)


@pytest.mark.parametrize("url", IN_MEMORY)
def test_in_memory_store_has_nothing_to_read(url: str) -> None:
    with pytest.raises(MeltError, match=r"no results store at .*in-memory store is always empty"):
        open_store(url, create=False)


@pytest.mark.parametrize("spec", ["typo/", "typo", "typo/melt.db", "sqlite:///typo/x.db"])
def test_read_open_never_creates_a_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spec: str
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(MeltError) as caught:
        open_store(spec, create=False)
    assert str(caught.value) == (
        f"no results store at '{spec}' (run melt bench first or pass --store)"
    )
    assert list(tmp_path.iterdir()) == []


def test_melt_db_that_is_a_directory_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "melt.db").mkdir()
    for spec in (str(tmp_path), str(tmp_path / "melt.db")):
        with pytest.raises(MeltError, match=r"melt\.db' is a directory, not a melt results"):
            open_store(spec, write=True)


def test_a_foreign_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("create table people (name text)")
    with pytest.raises(MeltError, match=r"not a melt results database .*people"):
        open_store(str(path))


def test_write_open_proves_a_write_and_leaves_no_trace(tmp_path: Path) -> None:
    store = open_store(str(tmp_path), write=True)
    with sqlite3.connect(tmp_path / "melt.db") as conn:
        keys = [k for (k,) in conn.execute("select key from melt_meta")]
        (mode,) = conn.execute("pragma journal_mode").fetchone()
    assert keys == ["schema"]
    assert mode == "wal"
    assert store.location.sqlite_path == tmp_path / "melt.db"


def test_run_ids_beyond_sqlite_integers_are_no_such_run(tmp_path: Path) -> None:
    store = open_store(str(tmp_path))
    for run_id in (2**63, 2**64 + 5, 0, -5):
        with pytest.raises(MeltError, match=f"no run with id {run_id} in"):
            store.run(run_id)


def test_list_limit_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(MeltError, match="--limit must be at least 1"):
        open_store(str(tmp_path)).list_runs(-5)


def test_postgres_without_driver_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # what Python sees when it is absent
    with pytest.raises(MeltError) as caught:
        open_store("postgresql://u:secret@localhost/db", write=True)
    assert "pip install 'melt-bench[postgres]'" in str(caught.value)
    assert "secret" not in str(caught.value)


def test_connection_refused_is_a_connection_problem_without_password() -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(MeltError) as caught:
        open_store(f"postgresql://melt:hunter2@127.0.0.1:{port}/db", write=True)
    message = str(caught.value)
    assert message.startswith(
        f"cannot connect to the results store 'postgresql://melt:***@127.0.0.1:{port}/db'"
    )
    assert "refused" in message.lower() and "cannot write" not in message
    assert "\n" not in message and "hunter2" not in message


def test_unsupported_backend_is_named() -> None:
    with pytest.raises(MeltError, match="SQLite or PostgreSQL, not 'mysql'"):
        open_store("mysql://u@h/db")
