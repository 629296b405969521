"""The exit status means one thing whatever the command (README: Exit status): 2 the user's
input is wrong, 1 a device failed (as a fleet whose device's run failed exits), 128 + the
signal when one stopped melt; and only a command that measures says, when stopped, that what
it measured is in the store."""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from tests.conftest import CliResult

from melt.cli import bench as bench_cli
from melt.cli import models as models_cli
from melt.cli.main import KEPT


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the block ends: nothing listens


def test_a_device_fault_in_a_single_device_bench_exits_1(
    tmp_path: Path, melt: Callable[..., CliResult]
) -> None:
    inventory = tmp_path / "melt-devices.yaml"
    board = {"name": "board", "transport": "ssh", "host": "127.0.0.1", "port": _closed_port()}
    inventory.write_text(yaml.safe_dump({"devices": [board]}))
    r = melt("bench", "--device", "board", "--devices", str(inventory))
    assert r.code == 1, r.err
    lines = [line for line in r.err.splitlines() if line.strip()]  # the progress line clears
    assert len(lines) == 1 and lines[0].startswith("melt: error: device 'board': cannot reach")


def test_a_user_mistake_still_exits_2(melt: Callable[..., CliResult]) -> None:
    r = melt("bench", "--device", "nosuch")
    assert r.code == 2 and "no device named 'nosuch'" in r.err


def _signal_in(monkeypatch: pytest.MonkeyPatch, module: object, name: str, signum: int) -> None:
    """The command gets `signum` (a real signal, through melt's own handler) at `name`."""

    def deliver(*_args: object, **_kwargs: object) -> None:
        os.kill(os.getpid(), signum)

    monkeypatch.setattr(module, name, deliver)


@pytest.mark.parametrize(
    ("signum", "code", "said"),
    [(signal.SIGINT, 130, "melt: interrupted"), (signal.SIGTERM, 143, "asked to stop (SIGTERM)")],
)
def test_a_stopped_quantize_does_not_claim_measurements(
    monkeypatch: pytest.MonkeyPatch,
    melt: Callable[..., CliResult],
    signum: int,
    code: int,
    said: str,
) -> None:
    _signal_in(monkeypatch, models_cli, "parse_quants", signum)
    r = melt("models", "quantize", "smollm2-135m-instruct", "--to", "q8_0")
    assert r.code == code, r.err
    said_all = " ".join(r.err.split())  # however the console wrapped it
    assert said in said_all and KEPT not in said_all and "Traceback" not in r.err


def test_a_stopped_bench_says_what_it_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, melt: Callable[..., CliResult]
) -> None:
    _signal_in(monkeypatch, bench_cli, "check_rate", signal.SIGINT)
    r = melt("bench", "--store", str(tmp_path / "melt.db"))
    assert r.code == 130, r.err
    assert r.err.strip() == f"melt: interrupted; {KEPT}"
