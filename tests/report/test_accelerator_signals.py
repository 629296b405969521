"""Accelerator probes' stored summaries in the terminal's device-signals tables: named, their
byte counts in binary units like the CPU's memory, and the accelerator's load per run."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from melt.report.samples import fmt_value
from melt.report.signals import runs_signals_table, timeline_table


def _timeline(probe: str, channel: str, unit: str, mean: float) -> dict[str, Any]:
    return {
        "probe": probe,
        "channel": channel,
        "unit": unit,
        "provenance": "measured",
        "min": mean,
        "mean": mean,
        "max": mean,
        "last": mean,
    }


def _signals(*timelines: dict[str, Any]) -> dict[str, Any]:
    return {"timelines": list(timelines), "sampling": {"achieved_hz": 9.5}, "throttling": []}


def _text(renderable: Any) -> str:
    console = Console(width=200, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


GPU = _signals(
    _timeline("cpu", "cpu", "%", 20.0),
    _timeline("kgsl", "gpu_busy", "%", 63.0),
    _timeline("kgsl", "gpuclk", "MHz", 585.0),
    _timeline("nvml", "memory_used", "bytes", 512.0 * 2**20),
)


def test_accelerator_series_are_named_and_bytes_read_in_binary_units() -> None:
    text = _text(timeline_table(GPU, "signals"))
    assert "Adreno GPU (kgsl)" in text and "NVIDIA GPU (NVML)" in text
    assert "512.0 MiB" in text
    assert fmt_value(3 * 2**30, "bytes") == "3.0 GiB"


def test_the_per_run_table_gets_the_accelerator_load_only_when_a_run_has_one() -> None:
    text = _text(runs_signals_table([(1, "cpu run", _signals()), (2, "gpu run", GPU)]))
    header = next(line for line in text.splitlines() if "accelerator load" in line)
    assert "accelerator load % (mean)" in header
    row = next(line for line in text.splitlines() if "gpu run" in line)
    assert " 63.0 " in row
    without = _text(runs_signals_table([(1, "cpu run", _signals())]))
    assert "accelerator" not in without
