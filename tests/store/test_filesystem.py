"""A store on a filesystem that refuses writes: read-only, or full. Real tmpfs mounts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from tests.store.filesystems import fill, remount_read_only
from tests.store.test_store import RUN, TURN

from melt.errors import MeltError
from melt.store import open_store


def _store_with_a_run(folder: Path) -> int:
    store = open_store(str(folder), write=True)
    exp = store.create_experiment("e", "melt bench", {})
    env = store.environment_id({"host": "h"})
    run_id = store.create_run(experiment_id=exp, **{**RUN, "environment_id": env})
    store.add_turn(run_id, [1, 2], **TURN)
    store.finish_run(run_id, "completed")
    store.engine.dispose()
    return run_id


def test_read_only_store_refuses_writers_and_serves_readers(
    tmpfs: Callable[[str], Path],
) -> None:
    folder = tmpfs("4m")
    run_id = _store_with_a_run(folder)
    remount_read_only(folder)
    with pytest.raises(MeltError) as caught:
        open_store(str(folder), write=True)
    assert str(caught.value).startswith(f"cannot write the results store '{folder}' (")
    assert "its filesystem is read-only" in str(caught.value)
    assert "\n" not in str(caught.value)
    reader = open_store(str(folder), create=False)
    assert reader.run(run_id)["status"] == "completed"
    assert len(reader.turns(run_id)) == 1


def test_full_disk_store_is_one_line_and_keeps_its_runs(tmpfs: Callable[[str], Path]) -> None:
    folder = tmpfs("1m")
    run_id = _store_with_a_run(folder)
    fill(folder)
    with pytest.raises(MeltError) as caught:
        store = open_store(str(folder), write=True)
        for _ in range(1000):  # the write check may fit in a free page; more writes do not
            store.add_turn(run_id, list(range(2000)), **TURN)
    message = str(caught.value)
    assert "bytes free on its filesystem" in message or "database or disk is full" in message
    assert message.endswith("free space on its disk or pass --store a path elsewhere")
    assert "\n" not in message
    with pytest.raises(MeltError) as caught:  # SQLite cannot even make its -shm file
        open_store(str(folder), create=False).run(run_id)
    assert str(caught.value).startswith(f"cannot open the results store '{folder}' (")
    (folder / "filler").unlink()
    assert open_store(str(folder), create=False).run(run_id)["status"] == "completed"
