"""How a run ends, on the fake framework (no model; `fake_framework.py` says what is made up):
every ending stores a final status and keeps the turns measured before it, a second Ctrl-C
during the first one's cleanup included, and a fleet's retry runs a failed run again but
never a completed one."""

from __future__ import annotations

import json
import signal
import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from tests.execution.scripted_framework.engine import NAME, Script, ScriptedSettings

from melt import interrupts
from melt.config import Cell, RunSettings
from melt.execution.bench import run_bench
from melt.execution.fleet import run_fleet
from melt.execution.request import BenchRequest, QuietObserver
from melt.interrupts import Terminated


def _request(tmp_path: Path, repeats: int = 1) -> BenchRequest:
    workload = tmp_path / "w.json"
    workload.write_text(json.dumps([["one two", "three four", "five six"]]))
    settings = RunSettings(threads=1, max_new_tokens=4, engine=ScriptedSettings())
    return BenchRequest(
        cells=(Cell("fake-model", None, settings),),
        framework=NAME,
        workload=str(workload),
        warmup_turns=0,
        repeats=repeats,
        store=str(tmp_path / "melt.db"),
    )


def _runs(tmp_path: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(tmp_path / "melt.db") as db:
        db.row_factory = sqlite3.Row
        rows = [dict(r) for r in db.execute("select * from runs order by id")]
        for row in rows:
            row["turns"] = db.execute(
                "select count(*) from turns where run_id = ?", (row["id"],)
            ).fetchone()[0]
    return rows


def test_a_completed_run_stores_every_turn_and_its_summary(tmp_path: Path, fake: Script) -> None:
    result = run_bench(_request(tmp_path), QuietObserver())
    (run,) = _runs(tmp_path)
    assert (run["status"], run["turns"], run["error"]) == ("completed", 3, None)
    assert run["ended_at"] is not None and json.loads(run["summary"])["aggregates"]
    assert json.loads(run["settings"])["options"]["framework"] == NAME
    assert result.cells[0].runs[0].aggregates.turns == 3
    assert fake.closed == 1


@pytest.mark.parametrize(
    ("error", "status", "message"),
    [
        (lambda: RuntimeError("disk on fire"), "failed", "RuntimeError: disk on fire"),
        (KeyboardInterrupt, "interrupted", "Ctrl-C"),
        (lambda: Terminated(signal.SIGTERM), "terminated", "SIGTERM"),
    ],
)
def test_every_ending_has_a_final_status_and_keeps_the_turns_before_it(
    tmp_path: Path, fake: Script, error: Any, status: str, message: str
) -> None:
    fake.raise_at_turn, fake.error = 3, error
    with pytest.raises(type(error())):
        run_bench(_request(tmp_path), QuietObserver())
    (run,) = _runs(tmp_path)
    assert run["status"] == status and message in run["error"]
    assert run["turns"] == 2 and run["ended_at"] is not None
    assert fake.closed == 1  # the engine was closed however the run ended


def test_a_second_ctrl_c_during_the_first_ones_cleanup_still_ends_the_run(
    tmp_path: Path, fake: Script
) -> None:
    """The QA pass's double Ctrl-C (issue 24, item 1): the second SIGINT lands while the
    run is being ended (here: while its engine closes). It waits until the run has its
    final status, then stops melt."""
    fake.raise_at_turn, fake.error = 2, KeyboardInterrupt  # the first Ctrl-C
    fake.signal_on_close = signal.SIGINT  # the second, in the middle of the cleanup
    previous = interrupts.install()
    try:
        with pytest.raises(KeyboardInterrupt):
            run_bench(_request(tmp_path), QuietObserver())
    finally:
        interrupts.restore(previous)
    (run,) = _runs(tmp_path)
    assert run["status"] == "interrupted" and run["ended_at"] is not None
    assert run["turns"] == 1 and json.loads(run["summary"])["aggregates"]["turns"] == 1


def test_a_retry_runs_the_failed_run_again_and_never_a_completed_one(
    tmp_path: Path, fake: Script
) -> None:
    fake.fail_loads = {1}  # the first run's engine fails at its first turn
    result = run_fleet(_request(tmp_path, repeats=2), ["local"], lambda _: QuietObserver(), 1)
    runs = _runs(tmp_path)
    assert [(r["repeat_index"], r["status"]) for r in runs] == [
        (0, "failed"),
        (0, "completed"),
        (1, "completed"),
    ]
    keys = [json.loads(r["settings"])["run_key"] for r in runs]
    assert keys[0] == keys[1] != keys[2]
    assert fake.loads == 3 and result.all_completed


class Connecting(QuietObserver):
    """Counts the attempts to reach the device (each starts by saying so)."""

    def __init__(self) -> None:
        super().__init__()
        self.attempts = 0

    def preparing(self, message: str) -> None:
        self.attempts += message.startswith("connecting to device")


def test_a_device_unreachable_at_the_start_is_retried(tmp_path: Path, fake: Script) -> None:
    """`--retries` covers a device that cannot be reached when its first run starts (the QA
    pass saw it give up at once): each attempt connects again, and every planned run is
    listed as not run with the reason once the attempts are spent."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once the block ends
    inventory = tmp_path / "devices.yaml"
    inventory.write_text(
        "devices:\n  - name: gone\n    transport: ssh\n"
        f"    host: 127.0.0.1\n    port: {port}\n    user: nobody\n"
    )
    request = replace(_request(tmp_path, repeats=2), devices_file=inventory, device="gone")
    observer = Connecting()
    result = run_fleet(request, ["gone"], lambda _: observer, 2)
    (outcome,) = result.outcomes
    assert observer.attempts == 3  # the first try and two retries
    assert outcome.status == "failed" and "gone" in (outcome.error or "")
    assert len(outcome.not_run) == 2 and not result.all_completed
    assert fake.loads == 0


def test_peak_rss_says_why_it_is_unavailable(tmp_path: Path) -> None:
    """The run's peak RSS falls back to a reason, never a figure it did not read: no process
    of melt's (an external server), a process that is gone, and a device that fails."""
    import subprocess

    from melt.devices.base import DeviceError
    from melt.devices.local import LocalDevice
    from melt.execution.run import _read_peak

    device = LocalDevice()
    assert _read_peak(device, None, since_reset=False).source == (
        "unavailable: the server is not a process melt started"
    )
    gone = subprocess.Popen(["true"])
    gone.wait()
    peak = _read_peak(device, gone.pid, since_reset=True)
    assert peak.bytes is None
    assert peak.source == f"unavailable: /proc/{gone.pid}/status could not be read"

    class Failing(LocalDevice):
        def read_text(self, path: str) -> str:
            raise DeviceError("device 'x': connection lost")

    peak = _read_peak(Failing(), 1, since_reset=True)
    assert (peak.bytes, peak.source) == (None, "unavailable: device 'x': connection lost")
    mine = _read_peak(device, "self", since_reset=False)  # type: ignore[arg-type]
    assert mine.bytes and mine.bytes > 0


class RecordingGuard:
    """Device settings held around a run (the `DeviceRunGuard` protocol a phone's runner
    implements), recording what the executor did with it."""

    def __init__(self, log: list[str]) -> None:
        self.log = log

    def __enter__(self) -> RecordingGuard:
        self.log.append("held")
        return self

    def __exit__(self, *exc: object) -> None:
        self.log.append("restored")

    def record(self) -> dict[str, Any]:
        return {"restored": self.log[-1:] == ["restored"]}

    @property
    def usb_power_note(self) -> str | None:
        return None


@pytest.mark.parametrize(
    ("raise_at_turn", "error", "status"),
    [
        (None, None, "completed"),
        (2, lambda: RuntimeError("boom"), "failed"),
        (2, KeyboardInterrupt, "interrupted"),
    ],
)
def test_the_device_settings_held_for_a_run_are_restored_however_it_ends(
    tmp_path: Path,
    fake: Script,
    monkeypatch: pytest.MonkeyPatch,
    raise_at_turn: int | None,
    error: Any,
    status: str,
) -> None:
    """The guard (a phone's screen and brightness, here one that records) is held for each
    run and restored once, completed, failed or interrupted, and what happened is stored."""
    from melt.runners.inprocess import InProcessRunner

    log: list[str] = []
    monkeypatch.setattr(InProcessRunner, "run_settings", lambda self: RecordingGuard(log))
    fake.raise_at_turn, fake.error = raise_at_turn, error or fake.error
    if status == "completed":
        run_bench(_request(tmp_path), QuietObserver())
    else:
        with pytest.raises(type(error())):
            run_bench(_request(tmp_path), QuietObserver())
    assert log == ["held", "restored"]
    (run,) = _runs(tmp_path)
    assert run["status"] == status
    assert json.loads(run["settings"])["device_run"]["settings_guard"] == {"restored": True}


def test_the_device_settings_are_restored_when_the_engine_does_not_load(
    tmp_path: Path, fake: Script, monkeypatch: pytest.MonkeyPatch
) -> None:
    from melt.runners.inprocess import InProcessRunner

    log: list[str] = []
    monkeypatch.setattr(InProcessRunner, "run_settings", lambda self: RecordingGuard(log))

    def no_load(self: object, *args: object) -> None:
        raise RuntimeError("model file unreadable")

    monkeypatch.setattr(InProcessRunner, "load", no_load)
    with pytest.raises(RuntimeError):
        run_bench(_request(tmp_path), QuietObserver())
    assert log == ["held", "restored"]
    assert _runs(tmp_path) == []  # no run row: nothing was measured
