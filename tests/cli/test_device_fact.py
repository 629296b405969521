"""`melt devices fact`: a figure no probe reads (a discrete GPU's memory bandwidth, a peak
FLOP/s), stated by the user with its source, kept for the device and carried into the facts
of every later run on it, where the report's bounds read it; a bad statement is one line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from tests.conftest import CliResult

from melt.devices.local import LocalDevice
from melt.devices.probe_store import stored_probes
from melt.execution.bench import device_environment


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MELT_CACHE", str(tmp_path))  # where device facts are kept


def test_a_stated_fact_is_kept_and_later_runs_carry_it(melt: Callable[..., CliResult]) -> None:
    r = melt(
        "devices",
        "fact",
        "local",
        "accelerator_memory_bandwidth",
        "2e12",
        "--source",
        "HBM3 datasheet",
    )
    assert r.code == 0, r.err
    fact = {"bytes_per_s": 2e12, "source": "HBM3 datasheet"}
    assert stored_probes("local")["accelerator_memory_bandwidth"] == fact
    r = melt("devices", "fact", "local", "accelerator_peak_flops", "9.9e14", "--source", "spec")
    assert r.code == 0, r.err
    environment = device_environment(LocalDevice().facts(), local=False)
    assert environment["accelerator_memory_bandwidth"] == fact
    assert environment["accelerator_peak_flops"] == {"flops_per_s": 9.9e14, "source": "spec"}


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["local", "gpu_speed", "1", "--source", "x"], "'gpu_speed' is not a device fact"),
        (["local", "peak_flops", "nan", "--source", "x"], "peak_flops VALUE (FLOP/s) must be"),
        (["local", "peak_flops", "0", "--source", "x"], "must be a finite number > 0"),
        (["local", "peak_flops", "1e12", "--source", " "], "--source must say where"),
        (["nowhere", "peak_flops", "1e12", "--source", "x"], "no device named 'nowhere'"),
    ],
)
def test_a_bad_statement_is_one_line_and_nothing_is_kept(
    melt: Callable[..., CliResult], args: list[str], named: str
) -> None:
    r = melt("devices", "fact", *args)
    assert r.code == 2, r.err
    assert r.err.startswith("melt: error: ") and r.err.count("\n") == 1, r.err
    assert named in r.err
    assert stored_probes("local") == {} and stored_probes("nowhere") == {}
