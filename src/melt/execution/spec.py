"""One run on one device as plain data (DESIGN.md: "one run on one device is a
serialisable unit"): what the plain bench, the thread per device and a Ray task all execute.

A `RunSpec` carries the whole `BenchRequest` it was planned from, not a chosen subset of its
fields: a new `melt bench` option reaches every execution path by being a request field,
with nothing to forget on the way (the Ray path once rebuilt a request from five fields and
dropped the rest without a word). `options_record` is what the run stores of it, so the store
shows what each run was asked, wherever it ran.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, is_dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from melt.config import Cell
from melt.execution.request import BenchRequest
from melt.execution.retry import run_key
from melt.secrets import mask_data


@dataclass(frozen=True, slots=True)
class RunSpec:
    """Cell `cell_index` of `request`, repeat `repeat`, on device `device`.

    `experiment_id` is the experiment row the run joins (None: the executor makes one, a
    plain bench); `key` names the run across retries and controllers (a fleet's, else None).
    """

    request: BenchRequest
    cell_index: int
    repeat: int
    device: str
    experiment_id: int | None = None
    key: str | None = None

    @property
    def cell(self) -> Cell:
        return self.request.cells[self.cell_index]

    @property
    def label(self) -> str:
        """How the run is named to a person: model, variant, threads, repeat."""
        cell = self.cell
        variant = f" {cell.quant}" if cell.quant else ""
        return f"{cell.model}{variant} t{cell.settings.threads} repeat {self.repeat}"

    def placed(self, **run_settings: Any) -> RunSpec:
        """This run with more facts for its settings (where a worker placed it)."""
        settings = {**self.request.run_settings, **run_settings}
        return replace(self, request=replace(self.request, run_settings=settings))

    def options_record(self) -> dict[str, Any]:
        """The request's options as the run stores them (JSON; no secrets: a URL's password
        is masked, an API key is only the name of its environment variable)."""
        r = self.request
        return mask_data(  # the store masks what it writes too; this record is stored
            {
                "framework": r.framework,
                "framework_options": dict(r.framework_options.values),  # not the live `device`
                "workload": r.workload,
                "conversations": r.conversations,
                "repeats": r.repeats,
                "warmup_turns": r.warmup_turns,
                "sustained_s": r.sustained_s,
                "probes": _plain(r.probes),
                "run_options": _plain(r.run_options),
                "allow_oversubscribe": r.allow_oversubscribe,
                "accept_new_host_key": r.accept_new_host_key,
                "devices_file": None if r.devices_file is None else str(r.devices_file),
                "store": r.store,
                "llama_cpp_dir": None if r.llama_cpp_dir is None else str(r.llama_cpp_dir),
                "reconcile": r.reconcile,
            }
        )


def plan_runs(
    request: BenchRequest, devices: Sequence[str], experiment_id: int | None = None
) -> list[RunSpec]:
    """Every repeat of every cell on every device, device by device, cell by cell: the one
    planner of `melt bench`, whichever way its runs are then executed. Runs are keyed once
    the experiment row exists (`execution/retry.py`)."""
    return [
        RunSpec(
            request=request,
            cell_index=c,
            repeat=repeat,
            device=device,
            experiment_id=experiment_id,
            key=None if experiment_id is None else run_key(experiment_id, c, repeat, device),
        )
        for device in devices
        for c in range(len(request.cells))
        for repeat in range(request.repeats)
    ]


def _plain(value: Any) -> Any:
    """A JSON-ready copy of a settings object (dataclasses, pydantic models, paths)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value
