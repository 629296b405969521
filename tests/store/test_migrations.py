"""Stores written by earlier schemas open with today's melt, upgraded in place after a copy
is kept, with every run intact; a store from a newer melt is refused.

Each `tests/fixtures/stores/schema-N/melt.db` was written by the melt of schema N (see the
README there). The next schema change adds a migration and one more fixture folder; these
tests then cover it unchanged.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from tests.store.filesystems import fill
from tests.store.test_store import TURN

from melt.errors import MeltError
from melt.store import migrate, open_store, schema

FIXTURES = Path(__file__).parents[1] / "fixtures" / "stores"
STORES = sorted(FIXTURES.glob("schema-*/melt.db"))


def _rows(path: Path, table: str) -> list[dict]:
    # closed here, not when the garbage collector gets to it: an open connection to a WAL
    # store keeps its -wal and -shm files beside it
    with closing(sqlite3.connect(path)) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(f"select * from {table} order by rowid")]


def test_every_schema_before_this_one_has_a_fixture() -> None:
    versions = {p.parent.name.removeprefix("schema-") for p in STORES}
    known = {s.revision for s in migrate.scripts().walk_revisions()}
    assert versions == known - {migrate.head()}
    assert migrate.head() == schema.SCHEMA_VERSION


@pytest.mark.parametrize("fixture", STORES, ids=lambda p: p.parent.name)
def test_an_older_store_is_upgraded_in_place_and_keeps_its_runs(
    fixture: Path, tmp_path: Path
) -> None:
    version = fixture.parent.name.removeprefix("schema-")
    path = tmp_path / "melt.db"
    shutil.copy(fixture, path)
    before = {t: _rows(path, t) for t in ("experiments", "runs", "turns", "samples")}
    assert before["runs"] and before["turns"], "a fixture holds at least one run with turns"

    store = open_store(str(tmp_path), create=False)  # a read command opens it, too

    copy = tmp_path / f"melt.db.schema-{version}.bak"
    assert {t: _rows(copy, t) for t in before} == before
    for table, rows in before.items():
        after = _rows(path, table)
        assert [{k: r[k] for k in old} for r, old in zip(after, rows, strict=True)] == rows
    runs = store.list_runs(None)
    assert sorted(r["id"] for r in runs) == sorted(r["id"] for r in before["runs"])
    for run in before["runs"]:
        assert len(store.turns(run["id"])) == sum(t["run_id"] == run["id"] for t in before["turns"])
    with store.engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == schema.SCHEMA_VERSION
        assert compare_metadata(MigrationContext.configure(conn), schema.metadata) == []

    # Writable as a store of today's schema, and a second open neither upgrades nor copies.
    writer = open_store(str(tmp_path), write=True)
    turn = {**TURN, "prompt_tokens": None, "prompt_tokens_evaluated": None}
    writer.add_turn(before["runs"][0]["id"], [1, 2], **{**turn, "prompt_tokens_reused": None})
    assert sorted(p.name for p in tmp_path.iterdir() if ".bak" in p.name) == [copy.name]


def test_a_store_from_a_newer_melt_is_refused(tmp_path: Path) -> None:
    store = open_store(str(tmp_path), write=True)
    with store.engine.begin() as conn:
        conn.execute(text("update alembic_version set version_num = '99'"))
    store.engine.dispose()
    with pytest.raises(MeltError) as caught:
        open_store(str(tmp_path))
    assert str(caught.value) == (
        f"results store '{tmp_path}' was written by a newer melt (schema 99, this melt knows "
        f"up to {schema.SCHEMA_VERSION}); upgrade melt (pip install -U melt-bench) or pass --store "
        "another path"
    )


def test_a_store_older_than_the_baseline_is_refused(tmp_path: Path) -> None:
    store = open_store(str(tmp_path), write=True)
    with store.engine.begin() as conn:
        conn.execute(text("drop table alembic_version"))
        conn.execute(text("update melt_meta set value = '1' where key = 'schema'"))
    store.engine.dispose()
    with pytest.raises(MeltError, match="has schema version 1, older than this melt can upgrade"):
        open_store(str(tmp_path))


def downgrade_to_legacy(store: object, revision: str) -> None:
    """Take a store of today's schema back to `revision` the way Alembic would, and drop
    Alembic's table when `revision` is the baseline (whose stores predate Alembic)."""
    with store.engine.begin() as conn:  # type: ignore[attr-defined]
        command.downgrade(migrate.config(conn), revision)
        if revision == migrate.scripts().get_base():
            conn.execute(text("drop table alembic_version"))


def test_downgrade_then_upgrade_round_trips(tmp_path: Path) -> None:
    store = open_store(str(tmp_path), write=True)
    downgrade_to_legacy(store, "2")
    store.engine.dispose()
    upgraded = open_store(str(tmp_path), write=True)
    with upgraded.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), schema.metadata) == []


@pytest.mark.parametrize("fixture", STORES[-1:], ids=lambda p: p.parent.name)
def test_no_room_for_the_copy_means_no_upgrade(fixture: Path, tmpfs: Callable[[str], Path]) -> None:
    folder = tmpfs("1m")
    path = folder / "melt.db"
    shutil.copy(fixture, path)
    before = _rows(path, "runs")
    # a reader holds the store open, so its -wal and -shm exist and the open itself needs no
    # room: what fails is the copy the upgrade keeps
    reader = sqlite3.connect(path)
    reader.execute("select count(*) from runs").fetchone()
    fill(folder)
    with pytest.raises(MeltError) as caught:
        open_store(str(folder), create=False)
    reader.close()
    assert str(caught.value).startswith(f"cannot keep a copy of '{path}' at '{path}.schema-")
    assert "\n" not in str(caught.value)
    assert [p.name for p in folder.iterdir() if ".bak" in p.name] == []
    (folder / "filler").unlink()
    assert _rows(path, "runs") == before  # untouched, still the old schema
    assert len(open_store(str(folder), create=False).list_runs(None)) == len(before)
