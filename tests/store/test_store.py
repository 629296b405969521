import json
import sqlite3
from pathlib import Path

import pytest

from melt.errors import MeltError
from melt.store import open_store
from melt.store.export import export_csv, export_json
from melt.store.timestamps import decode, encode

RUN = dict(
    environment_id=None,
    repeat_index=0,
    device="local",
    framework="llama.cpp",
    framework_version="test",
    model_name="m",
    model_path="/m.gguf",
    model_sha256="ab" * 32,
    model_quant="Q4_1",
    model_size_bytes=10,
    model_source="file",
    workload_name="w",
    workload_sha256="cd" * 32,
    workload_conversations=1,
    threads=1,
    ctx=64,
    batch=64,
    max_new_tokens=4,
    seed=0,
    warmup_turns=0,
    settings={},
)
TURN = dict(
    conversation_index=0,
    conversation_id="c",
    turn_index=0,
    warmup=False,
    wall_anchor_ns=1,
    submit_ns=1,
    end_ns=9,
    prompt_tokens=3,
    prompt_tokens_evaluated=3,
    prompt_tokens_reused=0,
    generated_tokens=3,
    stop_reason="eog",
    history_turns_dropped=0,
    ttft_s=0.5,
    output_text="hi, there",
)


def make_run(path: Path) -> tuple[object, int]:
    store = open_store(str(path))
    exp = store.create_experiment("e", "melt bench", {"x": 1})
    env = store.environment_id({"host": "h", "cpu_model": "c"})
    run_id = store.create_run(experiment_id=exp, **{**RUN, "environment_id": env})
    return store, run_id


def test_timestamps_roundtrip() -> None:
    stamps = [10**15, 10**15 + 7, 10**15 + 7_000_000_123]
    assert decode(encode(stamps)) == stamps
    assert len(encode(stamps)) == 8 * 3


def test_rows_are_committed_as_written(tmp_path: Path) -> None:
    path = tmp_path / "melt.db"
    store, run_id = make_run(path)
    store.add_turn(run_id, [5, 6, 8], **TURN)
    # Another connection sees the turn while the run is still running.
    with sqlite3.connect(path) as conn:
        assert conn.execute("select status from runs").fetchone() == ("running",)
        assert conn.execute("select count(*) from turns").fetchone() == (1,)
    store.finish_run(run_id, "interrupted", "Ctrl-C")
    run = store.run(run_id)
    assert run["status"] == "interrupted" and run["error"] == "Ctrl-C"
    assert run["environment"]["host"] == "h"
    assert store.turns(run_id, with_tokens=True)[0]["token_ns"] == [5, 6, 8]


def test_environment_rows_are_shared(tmp_path: Path) -> None:
    store = open_store(str(tmp_path))
    assert store.environment_id({"host": "a"}) == store.environment_id({"host": "a"})
    assert store.environment_id({"host": "a"}) != store.environment_id({"host": "b"})


def test_directory_gets_default_file_name(tmp_path: Path) -> None:
    open_store(str(tmp_path) + "/")
    assert (tmp_path / "melt.db").exists()


def test_exports(tmp_path: Path) -> None:
    store, run_id = make_run(tmp_path / "melt.db")
    store.add_turn(run_id, [5, 6, 8], **TURN)
    doc = json.loads(export_json(store, run_id))
    assert doc["turns"][0]["token_ns"] == [5, 6, 8]
    assert doc["model_sha256"] == "ab" * 32
    lines = export_csv(store, run_id).splitlines()
    assert lines[0].startswith("run_id,model_sha256,model_quant")
    assert len(lines) == 2
    assert "output_text" not in lines[0]


def test_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("shopping list\n")
    with pytest.raises(MeltError, match="not a melt results database"):
        open_store(str(path))
    assert path.read_text() == "shopping list\n"


def test_foreign_sqlite_database_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("create table songs (title text)")
    with pytest.raises(MeltError, match="not a melt results database"):
        open_store(str(path))
    with sqlite3.connect(path) as conn:
        tables = {r[0] for r in conn.execute("select name from sqlite_master")}
    assert tables == {"songs"}


def test_unwritable_location(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(MeltError, match="cannot create the results store"):
        open_store(str(blocker / "sub" / "melt.db"))


def test_unknown_run(tmp_path: Path) -> None:
    with pytest.raises(MeltError, match="no run with id 42"):
        open_store(str(tmp_path)).run(42)
