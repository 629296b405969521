"""Where each stored run's model ran (its compute backend, `melt.compute.ComputeUse`, the
run row's `compute` record), as every table of a report names it, and the runs side by side
per backend: the paper's CPU-vs-GPU figure (decode, prefill, TTFT and energy per token of one
model on each backend and offload setting).

A run stored before melt recorded its backend (a NULL `compute`) is "not recorded", never
taken for a CPU run; a run whose settings do not say how many layers were asked to go to the
GPU (`gpu_layers`) shows "?".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from rich.table import Table

from melt.compute import ComputeUse
from melt.errors import MeltError
from melt.metrics.stats import Aggregate, aggregate
from melt.report.units import fmt

if TYPE_CHECKING:
    from melt.report.content import RunView

# The probes that read an accelerator (probes/: NVML, Jetson's GPU, Adreno's kgsl, Mali,
# devfreq nodes, Intel i915/xe, amdgpu): reports show their samples apart from the CPU's.
ACCELERATOR_PROBES = frozenset(
    {"nvml", "jetson_gpu", "kgsl", "mali", "devfreq", "intel_gpu", "amdgpu"}
)
NOT_RECORDED = "not recorded"
UNKNOWN = "?"
ALL_LAYERS = -1  # llama.cpp's `-ngl` for every layer, as melt stores `--gpu-layers all`


def compute_of(run: Mapping[str, Any]) -> ComputeUse | None:
    """The run's compute record, or None for a run stored before melt kept it; a record
    this melt cannot read (written by a newer one) is one line, not a traceback."""
    try:
        return ComputeUse.from_record(run.get("compute"))
    except (TypeError, AttributeError) as exc:
        raise MeltError(
            f"run {run.get('id')}: its compute record is not one this melt reads ({exc}); "
            "report it with the melt version that wrote it"
        ) from None


def compute_label(run: Mapping[str, Any]) -> str:
    """One line for tables: `Vulkan0 llvmpipe (...) · 31/31 layers`, `CPU`, or not recorded."""
    use = compute_of(run)
    return NOT_RECORDED if use is None else use.label


def backend_name(use: ComputeUse | None) -> str:
    """The device the model ran on, without the offload count: the accelerator's label or
    `CPU` (with the ONNX Runtime provider where one ran)."""
    if use is None:
        return NOT_RECORDED
    accelerator = use.accelerator
    if accelerator is None:
        return use.label
    return f"{accelerator.api}: {accelerator.label}"


def gpu_layers_asked(run: Mapping[str, Any]) -> str:
    """The layers the run asked to offload (`--gpu-layers`), from its settings (the shared
    settings or the engine's own); "?" when the run did not record the setting."""
    settings = run.get("settings") or {}
    value = settings.get("gpu_layers", (settings.get("engine") or {}).get("gpu_layers"))
    if value is None:
        return UNKNOWN
    return "all" if value in (ALL_LAYERS, "all") else str(value)


def offloaded(use: ComputeUse | None) -> str:
    """The engine's own count of the layers it put on the accelerator, `n/total`."""
    if use is None or use.layers_offloaded is None:
        return UNKNOWN
    total = UNKNOWN if use.layers_total is None else str(use.layers_total)
    return f"{use.layers_offloaded}/{total}"


@dataclass(frozen=True, slots=True)
class BackendRow:
    """One model on one backend at one offload setting, its runs' measured turns pooled."""

    model: str
    model_sha256: str
    backend: str
    gpu_layers: str
    offloaded: str
    threads: str
    run_ids: tuple[int, ...]
    ttft_s: Aggregate
    prefill_tok_per_s: Aggregate
    decode_tok_per_s: Aggregate
    j_per_token: float | None  # median over the runs; None unless every run measured it
    energy_estimated: bool
    decode_vs_cpu: float | None  # decode median ÷ that of the model's CPU row

    @property
    def is_cpu(self) -> bool:
        return self.backend.startswith("CPU")

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "model_sha256": self.model_sha256,
            "backend": self.backend,
            "gpu_layers": self.gpu_layers,
            "layers_offloaded": self.offloaded,
            "threads": self.threads,
            "runs": ",".join(map(str, self.run_ids)),
            "ttft_s_median": _nan_none(self.ttft_s.median),
            "prefill_tok_per_s_median": _nan_none(self.prefill_tok_per_s.median),
            "decode_tok_per_s_median": _nan_none(self.decode_tok_per_s.median),
            "decode_j_per_token": self.j_per_token,
            "energy_provenance": None
            if self.j_per_token is None
            else ("estimated" if self.energy_estimated else "measured"),
            "decode_vs_cpu": self.decode_vs_cpu,
        }

    @property
    def energy_text(self) -> str:
        if self.j_per_token is None:
            return "not measured"
        return ("ESTIMATED " if self.energy_estimated else "") + f"{self.j_per_token:.4f}"


def _nan_none(value: float) -> float | None:
    return None if math.isnan(value) else value


Key = tuple[str, str, str, str, str]


def _key(view: RunView) -> Key:
    """Model, backend, layers asked, layers offloaded, threads: what a row holds fixed."""
    use = compute_of(view.run)
    return (
        str(view.run["model_sha256"]),
        backend_name(use),
        gpu_layers_asked(view.run),
        offloaded(use),
        fmt(view.run.get("threads")),
    )


def _joules(views: Sequence[RunView]) -> tuple[float | None, bool]:
    found = [v.energy for v in views if v.energy and v.energy.j_per_generated_token is not None]
    if not found or len(found) != len(views):
        return None, False
    median = aggregate([e.j_per_generated_token for e in found]).median
    return median, any(e.provenance == "estimated" for e in found)


def backend_rows(views: Sequence[RunView]) -> tuple[BackendRow, ...]:
    """The runs grouped by model × backend × offload × threads, when they ran on more than
    one backend or offload (otherwise there is nothing to put side by side: empty)."""
    groups: dict[Key, list[RunView]] = {}
    for view in views:
        groups.setdefault(_key(view), []).append(view)
    if len({key[1:4] for key in groups}) < 2:
        return ()
    rows = []
    ordered = sorted(groups.items(), key=lambda kv: kv[0][0])
    for (sha, backend, asked, done, threads), group in ordered:
        turns = [t for v in group for t in v.turns]
        joules, estimated = _joules(group)
        first = group[0].run
        rows.append(
            BackendRow(
                model=f"{first['model_name']} {first['model_quant']}",
                model_sha256=sha,
                backend=backend,
                gpu_layers=asked,
                offloaded=done,
                threads=threads,
                run_ids=tuple(v.run_id for v in group),
                ttft_s=aggregate([t["ttft_s"] for t in turns]),
                prefill_tok_per_s=aggregate([t["prefill_tok_per_s"] for t in turns]),
                decode_tok_per_s=aggregate([t["decode_tok_per_s"] for t in turns]),
                j_per_token=joules,
                energy_estimated=estimated,
                decode_vs_cpu=None,
            )
        )
    return tuple(_with_cpu_ratio(rows))


def _with_cpu_ratio(rows: list[BackendRow]) -> list[BackendRow]:
    """Each row's decode median against its model's first CPU row at the same threads
    (None without one)."""
    cpu: dict[tuple[str, str], BackendRow] = {}
    for row in rows:
        if row.is_cpu:
            cpu.setdefault((row.model_sha256, row.threads), row)
    out = []
    for row in rows:
        base = cpu.get((row.model_sha256, row.threads))
        ratio = (
            None
            if base is None or not base.decode_tok_per_s.n or not row.decode_tok_per_s.n
            else row.decode_tok_per_s.median / base.decode_tok_per_s.median
        )
        out.append(replace(row, decode_vs_cpu=ratio))
    return out


BACKEND_COLUMNS = (
    "model",
    "backend",
    "gpu layers asked",
    "offloaded",
    "threads",
    "runs",
    "TTFT s",
    "prefill tok/s",
    "decode tok/s",
    "decode × CPU",
    "decode J/tok",
)
BACKEND_NOTE = (
    "medians of the runs' measured turns; offloaded is the engine's own count; "
    "decode × CPU divides by the same model's CPU row at the same threads; J/tok is decode "
    "energy per generated token where every run of the row measured it"
)


def backend_cells(row: BackendRow) -> tuple[str, ...]:
    """A row's cells as text, for the terminal and the HTML table alike."""
    return (
        row.model,
        row.backend,
        row.gpu_layers,
        row.offloaded,
        row.threads,
        ", ".join(map(str, row.run_ids)),
        fmt(row.ttft_s.median, 3),
        fmt(row.prefill_tok_per_s.median, 1),
        fmt(row.decode_tok_per_s.median, 1),
        "–" if row.decode_vs_cpu is None else f"{row.decode_vs_cpu:.2f}×",
        row.energy_text,
    )


def backends_table(rows: Sequence[BackendRow]) -> Table:
    table = Table(title=f"Per compute backend ({BACKEND_NOTE})", title_justify="left")
    for column in BACKEND_COLUMNS:
        table.add_column(column, justify="left" if column in ("model", "backend") else "right")
    for row in rows:
        table.add_row(*backend_cells(row))
    return table
