"""What stored runs were, as the head of a report: the framework and device they ran on,
the workload, and (for runs of one cell) the artifact and its settings. Read from the runs
and their environment rows only, so `melt bench` and `melt report` open the same way."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.text import Text

from melt.config.settings import engine_knobs
from melt.report.units import fmt, fmt_bytes

Run = Mapping[str, Any]


def _facts(run: Run) -> dict[str, Any]:
    return dict((run.get("environment") or {}).get("facts") or {})


def device_line(run: Run) -> str:
    """`<framework version> on device <name> (<transport>): <cpu> (<cores>, <RAM>, <OS>)`;
    where the model ran is `compute_line`'s."""
    f = _facts(run)
    cores = f.get("physical_cores")
    machine = ", ".join(
        part
        for part in (
            None if cores is None else f"{cores} cores",
            None if f.get("ram_bytes") is None else fmt_bytes(f["ram_bytes"]),
            f.get("os"),
        )
        if part
    )
    cpu = f.get("cpu_model") or "CPU not recorded"
    where = f"device {run['device']} ({f.get('transport', 'local')})"
    return f"{run['framework_version']} on {where}: {cpu}" + (f" ({machine})" if machine else "")


def compute_line(run: Run) -> str | None:
    """`compute <backend label> (<where the engine said it>)`, for a run that recorded it
    (runs before melt kept it: left out, like every fact a run did not record)."""
    record = run.get("compute")
    if not record:
        return None
    source = f" ({record['source']})" if record.get("source") else ""
    return f"compute {record['label']}{source}"


def workload_line(run: Run, runs_per_cell: int) -> str:
    settings = run.get("settings") or {}
    turns = settings.get("workload_turns")
    shape = f"{run['workload_conversations']} conversations"
    if turns is not None:
        shape += f", {turns} turns"
    warmup = run.get("warmup_turns")
    tail = "" if warmup is None else f"; {warmup} warmup turn(s) per run, stored, not aggregated"
    return f"workload {run['workload_name']}: {shape} × {runs_per_cell} run(s) per cell{tail}"


def cell_lines(run: Run) -> Text:
    """The artifact (name, quant, size, sha256, where it came from) and the run's settings."""
    settings = run.get("settings") or {}
    text = Text()
    text.append(run["model_name"], style="bold")
    text.append(
        f"  {run['model_quant']}, {fmt_bytes(run['model_size_bytes'])}, "
        f"sha256 {run['model_sha256'][:12]}"
    )
    note = (settings.get("model_origin") or {}).get("note")
    if note:
        text.append(f" ({note})")
    sampling = settings.get("sampling") or {}
    text.append(
        f"\nthreads {fmt(run.get('threads'))}, ctx {fmt(run.get('ctx'))}, batch "
        f"{fmt(run.get('batch'))}, max new tokens {fmt(run.get('max_new_tokens'))}, "
        f"temperature {sampling.get('temperature', '–')}, seed {fmt(run.get('seed'))}"
    )
    engine = settings.get("engine")
    if engine:
        text.append(f"\n{engine.get('framework', run['framework'])} settings: ")
        text.append(engine_knobs(engine))
    return text


def header_parts(runs: Sequence[Run], cells: int, runs_per_cell: int) -> list[Any]:
    """One line per distinct device, framework and compute backend, one per workload; for
    one cell, its artifact and settings too."""
    lines = list(dict.fromkeys(device_line(r) for r in runs))
    lines += dict.fromkeys(line for line in map(compute_line, runs) if line)
    lines += dict.fromkeys(workload_line(r, runs_per_cell) for r in runs)
    parts: list[Any] = [Text("\n".join(lines))]
    if cells == 1:
        parts.append(cell_lines(runs[0]))
    return parts
