"""What a report says about a set of stored runs, computed once and rendered many ways
(HTML, terminal, md/csv/json/parquet tables). Reads the store only (the KV-cache shape and
the memory bandwidth are facts the run recorded), never the result of the command that just
ran, and measures nothing."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from melt.metrics.compare import Better
from melt.metrics.pareto import pareto_optimal
from melt.metrics.qoe import (
    DEFAULT_READING_WPM,
    Verdict,
    battery_verdict,
    reading_verdict,
    thermal_verdict,
    tokens_per_word,
    ttft_verdict,
)
from melt.metrics.roofline import (
    ComputeBound,
    KvShape,
    Roofline,
    compute_bound,
    decode_depth,
    roofline,
)
from melt.metrics.stats import (
    CV_FLAG_THRESHOLD,
    Aggregate,
    RateAggregate,
    aggregate,
    rate_aggregate,
    tukey_outliers,
)
from melt.metrics.thermal import zone_thermal
from melt.metrics.timeline import Series, group_rows
from melt.report.backends import (
    BackendRow,
    backend_name,
    backend_rows,
    compute_label,
    compute_of,
)
from melt.report.bounds import BandwidthFact, facts_of, peak_flops, weights_bandwidth
from melt.report.reconcile import reconcile_rows
from melt.report.selection import measured_turns
from melt.store import Store
from melt.store.samples import SampleRow, sample_rows
from melt.store.scores import scores_for
from melt.values import finite

LATENCY_METRICS = (("ttft_s", "TTFT", "s"), ("e2e_s", "turn latency", "s"))
RATE_METRICS = (
    ("prefill_tok_per_s", "prefill", "prompt_tokens_evaluated", "prefill_s"),
    ("decode_tok_per_s", "decode", "decode_steps", "decode_s"),
)
RATE_SHOWN = "median of per-turn rates"  # what the tables' rate columns hold
OUTLIER_METRICS = ("ttft_s", "decode_tok_per_s")


@dataclass(frozen=True, slots=True)
class RooflineLine:
    result: Roofline | None
    says: str


@dataclass(frozen=True, slots=True)
class PrefillBoundLine:
    result: ComputeBound | None
    says: str


@dataclass(frozen=True, slots=True)
class Energy:
    j_per_generated_token: float | None
    j_per_prompt_token: float | None
    provenance: str
    source: str


@dataclass(slots=True)
class RunView:
    run: dict[str, Any]
    turns: list[dict[str, Any]]
    series: list[Series]  # the probes' samples, one series per (probe, channel)
    latency: dict[str, Aggregate]
    rates: dict[str, RateAggregate]
    outliers: dict[str, Any]
    qoe: list[Verdict]
    roofline: RooflineLine
    energy: Energy | None
    accuracy: dict[str, float] = field(default_factory=dict)
    prefill_bound: PrefillBoundLine = PrefillBoundLine(None, "not evaluated")

    @property
    def run_id(self) -> int:
        return int(self.run["id"])

    @property
    def label(self) -> str:
        r = self.run
        use = compute_of(r)
        on = "" if use is None else f" on {backend_name(use)}"
        return f"run {r['id']}: {r['model_name']} {r['model_quant']}, {r['threads']} thr{on}"

    @property
    def flagged_cv(self) -> bool:
        cv = self.rates["decode_tok_per_s"].cv
        return not math.isnan(cv) and cv > CV_FLAG_THRESHOLD


@dataclass(frozen=True, slots=True)
class ReportContent:
    runs: tuple[RunView, ...]
    reading_wpm: float
    pareto: tuple[dict[str, Any], ...]
    backends: tuple[BackendRow, ...] = ()
    reconcile: tuple[dict[str, Any], ...] = ()  # melt vs llama-bench (report/reconcile.py)

    def tables(self) -> dict[str, list[dict[str, Any]]]:
        """Every figure the report shows, as flat tables (md/csv/json/parquet)."""
        return {
            "summary": [summary_row(v) for v in self.runs],
            "turns": [row for v in self.runs for row in turn_rows(v)],
            "qoe": [
                {"run_id": v.run_id, **verdict.as_dict()} for v in self.runs for verdict in v.qoe
            ],
            "roofline": [roofline_row(v) for v in self.runs],
            "outliers": [row for v in self.runs for row in outlier_rows(v)],
            "environment": [row for v in self.runs for row in environment_rows(v)],
            "pareto": list(self.pareto),
            "backends": [row.as_dict() for row in self.backends],
            "reconcile": list(self.reconcile),
        }


def _decode_steps(turn: Mapping[str, Any]) -> int:
    return max(int(turn["generated_tokens"]) - 1, 0)


def _count(turn: Mapping[str, Any], units: str) -> float | None:
    """A turn's token count for a rate; None where the run did not record it (an OpenAI
    server that does not report cached tokens leaves the evaluated prompt tokens unknown)."""
    value = _decode_steps(turn) if units == "decode_steps" else turn[units]
    return None if value is None else float(value)


def _rate(turns: Sequence[Mapping[str, Any]], units: str, seconds: str) -> RateAggregate:
    """The rate over the turns that recorded both the count and the duration; a turn with
    either unknown is left out, never counted as zero."""
    known = [(c, t[seconds]) for t in turns if (c := _count(t, units)) is not None]
    return rate_aggregate([c for c, _ in known], [s for _, s in known])


def _energy(run: Mapping[str, Any]) -> Energy | None:
    energy = (((run.get("summary") or {}).get("signals") or {}).get("energy")) or None
    if not energy:
        return None
    return Energy(
        j_per_generated_token=(energy.get("j_per_generated_token") or {}).get("median"),
        j_per_prompt_token=(energy.get("j_per_prompt_token") or {}).get("median"),
        provenance=str(energy.get("provenance", "measured")),
        source=str(energy.get("source", "")),
    )


def kv_shape_of(run: Mapping[str, Any]) -> KvShape | None:
    """The KV cache's shape the run recorded from its model's header (None: not recorded)."""
    shape = (run.get("settings") or {}).get("kv_shape")
    return None if not shape else KvShape(**shape)


def roofline_of(
    view_run: Mapping[str, Any], decode: float, depth: float, bw: BandwidthFact
) -> RooflineLine:
    if math.isnan(decode):
        return RooflineLine(None, "no decode rate measured")
    if bw.bytes_per_s is None:
        return RooflineLine(None, bw.says)
    kv = kv_shape_of(view_run)
    if kv is None:
        return RooflineLine(
            None, "KV-cache shape not recorded (not a GGUF model, or stored before melt kept it)"
        )
    weights = int(view_run.get("model_bytes") or view_run["model_size_bytes"])
    result = roofline(decode, depth, weights, kv, bw.bytes_per_s, bw.says)
    says = (
        f"{100 * result.fraction_of_limit:.0f}% of the memory-bandwidth limit "
        f"({decode:.1f} of {result.bound_tok_per_s:.1f} tok/s; bandwidth {bw.says})"
    )
    if result.fraction_of_limit > 1:
        says += (
            "; ABOVE the bound: the bandwidth figure reads low (measured under load, or one "
            "thread against a multi-threaded decode) or the weights stayed in cache"
        )
    return RooflineLine(result, says)


def prefill_bound_of(run: Mapping[str, Any], prefill: float) -> PrefillBoundLine:
    """Prefill against the compute bound of the device that ran it, where its peak FLOP/s
    is a recorded fact and the model's parameter count is known."""
    peak = peak_flops(run)
    if peak.flops_per_s is None:
        return PrefillBoundLine(None, peak.says)
    if math.isnan(prefill):
        return PrefillBoundLine(None, "no prefill rate measured")
    params = (run.get("settings") or {}).get("model_params")
    if not params:
        return PrefillBoundLine(
            None, "no compute bound: the model's parameter count is not recorded"
        )
    result = compute_bound(prefill, int(params), peak.flops_per_s, peak.says)
    return PrefillBoundLine(
        result,
        f"{100 * result.fraction_of_limit:.0f}% of the compute limit ({prefill:.1f} of "
        f"{result.bound_tok_per_s:.1f} tok/s at 2 FLOPs per weight; {peak.says})",
    )


def _median(values: Sequence[float]) -> float:
    """Median without the bootstrap (NaN when empty)."""
    return float(np.median(values)) if len(values) else float("nan")


def _series(rows: Sequence[SampleRow]) -> list[Series]:
    """The run's samples as one series per (probe, channel) (metrics.timeline.group_rows)."""
    return group_rows(rows)


def _thermal_from_samples(series: Sequence[Series]) -> dict[str, dict[str, float]]:
    """Per-zone thermal figures at the default comfort threshold, for runs stored without a
    signals summary (imported, or older)."""
    zones: dict[str, list[tuple[int, float]]] = {}
    for s in series:
        if s.unit == "°C":
            zones.setdefault(s.channel, []).extend(s.points)
    return {
        zone: zone_thermal(sorted(points, key=lambda p: p[0])).as_dict()
        for zone, points in zones.items()
    }


def run_view(store: Store, run: dict[str, Any], reading_wpm: float) -> RunView:
    turns = measured_turns(store, run["id"], with_tokens=True)
    series = _series(sample_rows(store, run["id"]))
    latency = {name: aggregate([t[name] for t in turns]) for name, _, _ in LATENCY_METRICS}
    rates = {name: _rate(turns, units, secs) for name, _, units, secs in RATE_METRICS}
    outliers = {name: tukey_outliers([t[name] for t in turns]) for name in OUTLIER_METRICS}
    decode = rates["decode_tok_per_s"].per_turn.median
    signals = (run.get("summary") or {}).get("signals") or {}
    energy = signals.get("energy") or {}
    qoe = [
        reading_verdict(
            None if math.isnan(decode) else decode,
            tokens_per_word(
                [t["generated_tokens"] for t in turns], [t["output_text"] for t in turns]
            ),
            reading_wpm,
        ),
        ttft_verdict([t["ttft_s"] for t in turns if t["ttft_s"] is not None]),
        battery_verdict(energy.get("battery")),
        thermal_verdict(signals.get("thermal") or _thermal_from_samples(series)),
    ]
    depth = _median(
        [
            decode_depth(t["prompt_tokens"], t["generated_tokens"])
            for t in turns
            if t["prompt_tokens"] is not None
        ]
    )
    bw = weights_bandwidth(run)
    return RunView(
        run=run,
        turns=turns,
        series=series,
        latency=latency,
        rates=rates,
        outliers=outliers,
        qoe=qoe,
        roofline=roofline_of(run, decode, depth, bw),
        energy=_energy(run),
        accuracy=_accuracy(store, run["model_sha256"]),
        prefill_bound=prefill_bound_of(run, rates["prefill_tok_per_s"].per_turn.median),
    )


def _accuracy(store: Store, sha256: str) -> dict[str, float]:
    """The newest score per task × metric of this artifact (e.g. ``mmlu acc``)."""
    found: dict[str, float] = {}
    for row in scores_for(store, sha256):
        found[f"{row['task']} {row['metric']}"] = float(row["value"])
    return found


PARETO_AXES = (
    ("decode_tok_per_s", Better.HIGHER),
    ("accuracy", Better.HIGHER),
    ("size_bytes", Better.LOWER),
    ("j_per_token", Better.LOWER),
)


def pareto_rows(views: Sequence[RunView]) -> tuple[dict[str, Any], ...]:
    """One row per model variant (sha256) with the axes that every variant has; empty for
    fewer than two variants."""
    variants: dict[str, list[RunView]] = {}
    for v in views:
        variants.setdefault(v.run["model_sha256"], []).append(v)
    if len(variants) < 2:
        return ()
    common_tasks = set.intersection(*(set(vs[0].accuracy) for vs in variants.values()))
    task = min(common_tasks) if common_tasks else None
    rows = []
    for sha, vs in variants.items():
        first = vs[0]
        joules = [
            v.energy.j_per_generated_token
            for v in vs
            if v.energy and v.energy.j_per_generated_token
        ]
        rows.append(
            {
                "variant": f"{first.run['model_name']} {first.run['model_quant']}",
                "model_sha256": sha,
                "runs": ",".join(str(v.run_id) for v in vs),
                "decode_tok_per_s": _median(
                    [t["decode_tok_per_s"] for v in vs for t in v.turns if t["decode_tok_per_s"]]
                ),
                "accuracy": first.accuracy.get(task) if task else None,
                "accuracy_metric": task,
                "size_bytes": int(first.run["model_size_bytes"]),
                "j_per_token": _median(joules) if len(joules) == len(vs) else None,
                "energy_provenance": first.energy.provenance if first.energy else None,
            }
        )
    axes = [
        (name, better)
        for name, better in PARETO_AXES
        if all(r[name] is not None and not math.isnan(r[name]) for r in rows)
    ]
    flags = pareto_optimal([[r[a] for a, _ in axes] for r in rows], [b for _, b in axes])
    for row, flag in zip(rows, flags, strict=True):
        row["pareto_axes"] = ", ".join(a for a, _ in axes)
        row["pareto_optimal"] = flag
    return tuple(rows)


def build_report(
    store: Store, runs: Sequence[dict[str, Any]], reading_wpm: float = DEFAULT_READING_WPM
) -> ReportContent:
    finite(reading_wpm, "--reading-wpm", above=0)  # words per minute

    views = tuple(run_view(store, run, reading_wpm) for run in runs)
    reconcile = tuple(reconcile_rows(store, [v.run_id for v in views]))
    return ReportContent(views, reading_wpm, pareto_rows(views), backend_rows(views), reconcile)


# --- flat rows -----------------------------------------------------------------------------


def _nan_none(value: float | None) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def summary_row(v: RunView) -> dict[str, Any]:
    r = v.run
    row: dict[str, Any] = {
        "run_id": v.run_id,
        "experiment_id": r["experiment_id"],
        "status": r["status"],
        "device": r["device"],
        "model": r["model_name"],
        "quant": r["model_quant"],
        "model_sha256": r["model_sha256"],
        "size_bytes": r["model_size_bytes"],
        "framework": f"{r['framework']} {r['framework_version']}",
        "compute": compute_label(r),
        "threads": r["threads"],
        "ctx": r["ctx"],
        "turns": len(v.turns),
    }
    for name, _, _unit in LATENCY_METRICS:
        agg = v.latency[name]
        row |= {
            f"{name}_median": _nan_none(agg.median),
            f"{name}_ci_low": _nan_none(agg.ci_low),
            f"{name}_ci_high": _nan_none(agg.ci_high),
        }
    for name, *_ in RATE_METRICS:
        rate = v.rates[name]
        row |= {
            f"{name}_median_of_turns": _nan_none(rate.per_turn.median),
            f"{name}_ci_low": _nan_none(rate.per_turn.ci_low),
            f"{name}_ci_high": _nan_none(rate.per_turn.ci_high),
            f"{name}_total_over_time": _nan_none(rate.pooled),
            f"{name}_cv": _nan_none(rate.cv),
        }
    row["decode_cv_flagged"] = v.flagged_cv
    row["decode_cv_threshold"] = CV_FLAG_THRESHOLD
    if v.energy is not None:
        row["decode_j_per_token"] = v.energy.j_per_generated_token
        row["energy_provenance"] = v.energy.provenance
    row["roofline_percent_of_limit"] = (
        None if v.roofline.result is None else 100 * v.roofline.result.fraction_of_limit
    )
    return row


def turn_rows(v: RunView) -> list[dict[str, Any]]:
    return [
        {
            "run_id": v.run_id,
            "conversation": t["conversation_index"],
            "turn": t["turn_index"],
            "prompt_tokens": t["prompt_tokens"],
            "prompt_tokens_evaluated": t["prompt_tokens_evaluated"],
            "prompt_tokens_reused": t["prompt_tokens_reused"],
            "generated_tokens": t["generated_tokens"],
            "ttft_s": t["ttft_s"],
            "prefill_tok_per_s": t["prefill_tok_per_s"],
            "decode_tok_per_s": t["decode_tok_per_s"],
            "e2e_s": t["e2e_s"],
        }
        for t in v.turns
    ]


def roofline_row(v: RunView) -> dict[str, Any]:
    row: dict[str, Any] = {
        "run_id": v.run_id,
        "says": v.roofline.says,
        "prefill_says": v.prefill_bound.says,
    }
    if v.roofline.result is not None:
        row |= v.roofline.result.as_dict()
    if v.prefill_bound.result is not None:
        row |= v.prefill_bound.result.as_dict()
    return row


def outlier_rows(v: RunView) -> list[dict[str, Any]]:
    return [
        {
            "run_id": v.run_id,
            "metric": name,
            "rule": found.rule,
            "turn_position": index,
            "value": value,
            "low_fence": found.low_fence,
            "high_fence": found.high_fence,
        }
        for name, found in v.outliers.items()
        for index, value in zip(found.indices, found.values, strict=True)
    ]


def _flatten(prefix: str, value: Any) -> list[tuple[str, Any]]:
    if isinstance(value, Mapping):
        return [kv for k, inner in value.items() for kv in _flatten(f"{prefix}.{k}", inner)]
    if isinstance(value, list | tuple):
        return [(prefix, ", ".join(map(str, value)))]
    return [(prefix, value)]


def environment_rows(v: RunView) -> list[dict[str, Any]]:
    pairs = _flatten("device", facts_of(v.run)) + _flatten("settings", v.run.get("settings") or {})
    return [{"run_id": v.run_id, "key": k, "value": str(val)} for k, val in pairs]
