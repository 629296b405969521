"""The store on a real PostgreSQL server (tests/store/conftest.py starts one): the store
API, its migrations, concurrent writers, and melt's commands end to end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, text
from sqlalchemy.exc import SQLAlchemyError
from tests.bench_process import LONG_CONVERSATION
from tests.cli.test_eval import write_task
from tests.store.test_migrations import downgrade_to_legacy
from tests.store.test_store import RUN, TURN
from tests.waiting import wait_until

from melt.errors import MeltError
from melt.store import open_store, schema
from melt.store.db import environment_fingerprint
from melt.store.export import export_json
from melt.store.samples import add_samples, run_samples
from melt.traces.sample import Sample

FIXTURES = Path(__file__).parents[1] / "fixtures" / "melt"
SRC = Path(__file__).parents[2] / "src"
TINY_BENCH = ("--max-new-tokens", "4", "--conversations", "1", "--threads", "1")

# One writer process: a run of `turns` turns, each with a sample batch.
WRITER = f"""
import sys
import threading
import time
from melt.store import open_store
from melt.store.samples import add_samples
from melt.traces.sample import Sample
store = open_store(sys.argv[1], write=True)
exp = store.create_experiment("e", "melt bench", {{}})
env = store.environment_id({{"host": "h"}})
run_id = store.create_run(experiment_id=exp, **{{**{RUN!r}, "environment_id": env}})
for i in range(int(sys.argv[2])):
    store.add_turn(run_id, [i, i + 1], **{{**{TURN!r}, "turn_index": i}})
    add_samples(store, run_id, [Sample(i, "cpu", "busy", 0.5, "fraction")])
store.finish_run(run_id, "completed")
print(run_id)
"""


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), str(SRC.parent)])}


def test_store_api_round_trip(postgres_url: str) -> None:
    store = open_store(postgres_url, write=True)
    exp = store.create_experiment("e", "melt bench", {"x": 1})
    env = store.environment_id({"host": "h"})
    assert store.environment_id({"host": "h"}) == env
    run_id = store.create_run(experiment_id=exp, **{**RUN, "environment_id": env})
    store.add_turn(run_id, [5, 6, 2**40], **{**TURN, "prompt_tokens": None})
    add_samples(store, run_id, [Sample(7, "rapl", "package-0", 3.5, "W")])
    assert store.run(run_id)["status"] == "running"
    store.finish_run(run_id, "completed")
    document = json.loads(export_json(store, run_id))
    assert document["status"] == "completed"
    assert document["turns"][0]["token_ns"] == [5, 6, 2**40]
    assert document["turns"][0]["prompt_tokens"] is None
    assert [s.value for s in run_samples(store, run_id)] == [3.5]
    with pytest.raises(MeltError, match=f"no run with id {2**63} in"):
        store.run(2**63)


def test_read_command_on_an_empty_database_makes_nothing(postgres_url: str) -> None:
    with pytest.raises(MeltError, match=r"no results store at .*has no melt tables"):
        open_store(postgres_url, create=False)
    with pytest.raises(MeltError, match="no results store at"):
        open_store(postgres_url, create=False)  # and the first try created nothing


def test_an_older_postgres_store_is_upgraded_in_one_transaction(postgres_url: str) -> None:
    store = open_store(postgres_url, write=True)
    exp = store.create_experiment("e", "melt bench", {})
    env = store.environment_id({"host": "h"})
    store.create_run(experiment_id=exp, **{**RUN, "environment_id": env})
    downgrade_to_legacy(store, "2")
    store.engine.dispose()
    upgraded = open_store(postgres_url, create=False)
    assert [r["experiment_id"] for r in upgraded.list_runs()] == [exp]
    with upgraded.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), schema.metadata) == []


def test_concurrent_writer_processes_lose_nothing(postgres_url: str) -> None:
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, postgres_url, "25"],
            stdout=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        for _ in range(3)
    ]
    run_ids = []
    for writer in writers:
        out, _ = writer.communicate(timeout=120)
        assert writer.returncode == 0
        run_ids.append(int(out))
    store = open_store(postgres_url, create=False)
    for run_id in run_ids:
        assert [t["turn_index"] for t in store.turns(run_id)] == list(range(25))
        assert len(run_samples(store, run_id)) == 25
        assert store.run(run_id)["status"] == "completed"


def test_import_eval_and_runs_commands(
    melt: Callable[..., object], postgres_url: str, tmp_path: Path
) -> None:
    imported = melt(
        "import", str(FIXTURES / "llamacpp" / "timings_sigint.log"), "--store", postgres_url
    )
    assert imported.code == 0, imported.err
    listed = melt("runs", "list", "--store", postgres_url)
    assert listed.code == 0 and "imported" in listed.out
    run_id = open_store(postgres_url, create=False).list_runs()[0]["id"]
    shown = melt("runs", "show", str(run_id), "--store", postgres_url)
    assert shown.code == 0 and f"run {run_id}" in shown.out
    exported = melt("runs", "export", str(run_id), "--store", postgres_url)
    assert exported.code == 0 and exported.json()["id"] == run_id
    evaluated = melt(
        "eval",
        "--tasks",
        str(write_task(tmp_path)),
        "--threads",
        "1",
        "--ctx",
        "512",
        "--store",
        postgres_url,
    )
    assert evaluated.code == 0, evaluated.err
    assert "quiz acc" in evaluated.out


@pytest.mark.slow
def test_two_concurrent_benches_write_one_store(postgres_url: str, tmp_path: Path) -> None:
    # Overlap by construction, not by luck of scheduling: the long bench has a turn in the
    # store before the short one starts, and is stopped (Ctrl-C) only after it completed.
    workload = tmp_path / "long.json"
    workload.write_text(json.dumps(LONG_CONVERSATION))

    def bench(*args: str) -> subprocess.Popen[str]:
        argv = [sys.executable, "-m", "melt", "bench", "--store", postgres_url, *args]
        return subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
            cwd=tmp_path,
        )

    long = bench("--workload", str(workload), "--max-new-tokens", "16", "--threads", "1")
    try:
        stored = wait_until(lambda: _has_turn(postgres_url) or long.poll() is not None, 300)
        assert stored and long.poll() is None, long.communicate()
        short = bench(*TINY_BENCH, "--json")
        out, err = short.communicate(timeout=600)
        assert short.returncode == 0, err
        json.loads(out)
        assert long.poll() is None, "the long bench ended before the short one: no overlap"
        long.send_signal(signal.SIGINT)
        _, err = long.communicate(timeout=120)
        assert long.returncode == 130, err
    finally:
        if long.poll() is None:
            long.kill()
    store = open_store(postgres_url, create=False)
    runs = store.list_runs(None)
    assert sorted(r["status"] for r in runs) == ["completed", "interrupted"]
    # They wrote at the same time: each started before the other ended.
    assert max(r["started_at"] for r in runs) < min(r["ended_at"] for r in runs)
    for run in runs:
        turns = store.turns(run["id"])
        expected = (run["summary"] or {}).get("aggregates", {}).get("turns")
        assert turns and sum(not t["warmup"] for t in turns) == expected
    listed = subprocess.run(
        [sys.executable, "-m", "melt", "runs", "list", "--store", postgres_url],
        capture_output=True,
        text=True,
        env=_env(),
        check=True,
    )
    assert listed.stdout.count("completed") == 1 and "interrupted" in listed.stdout


def _has_turn(url: str) -> bool:
    """A measured turn is in the store (False before its tables exist). Each poll's engine
    is disposed, so polling holds no PostgreSQL connection open."""
    try:
        store = open_store(url, create=False)
    except MeltError:  # no melt tables yet
        return False
    try:
        with store.engine.connect() as conn:
            return bool(conn.execute(text("select count(*) from turns where not warmup")).scalar())
    except SQLAlchemyError:
        return False
    finally:
        store.engine.dispose()


def _waiting_on_a_lock(store: object) -> bool:
    """A fresh transaction each time: PostgreSQL keeps one pg_stat_activity snapshot per
    transaction."""
    with store.engine.connect() as conn:  # type: ignore[attr-defined]
        query = "select count(*) from pg_stat_activity where wait_event_type = 'Lock'"
        return bool(conn.execute(text(query)).scalar())


def test_two_writers_of_the_same_environment_share_one_row(postgres_url: str) -> None:
    """The second insert of a fingerprint waits on the first's unique index entry, fails when
    it commits, and finds that row instead of failing the run."""
    store = open_store(postgres_url, write=True)
    facts = {"host": "h", "cpu_model": "c"}
    found: dict[str, int] = {}
    with store.engine.connect() as first:
        tx = first.begin()
        inserted = first.execute(
            insert(schema.environments).values(
                fingerprint=environment_fingerprint(facts), facts=facts, host="h"
            )
        ).inserted_primary_key[0]
        second = threading.Thread(target=lambda: found.update(id=store.environment_id(facts)))
        second.start()
        deadline = time.monotonic() + 30
        while not _waiting_on_a_lock(store):
            assert time.monotonic() < deadline, "the second writer never waited on the row"
            time.sleep(0.05)  # polling a condition with a deadline
        tx.commit()
        second.join(timeout=30)
    assert found == {"id": inserted}
