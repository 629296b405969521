"""Baseline vs candidate: matched rows, per-metric differences with uncertainty, a verdict.

A side is a set of runs. Every run carries the key properties that identify what was
measured (llama-bench's row schema). A property that varies inside a side (the quant of a
sweep) pairs rows across the sides; a property constant inside each side but different
between them (the framework version of two builds) is what the comparison is about and is
listed as a difference, never silently compared. Rows only one side has are listed as
unmatched. Samples are the per-turn values of the measured (non-warmup) turns of a row's runs.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from melt.compute import ComputeUse
from melt.metrics.stats import Difference, MannWhitney, mann_whitney_u, median_difference


class Better(Enum):
    LOWER = "lower"
    HIGHER = "higher"


@dataclass(frozen=True, slots=True)
class MetricSpec:
    name: str
    label: str
    unit: str
    better: Better


METRICS: dict[str, MetricSpec] = {
    spec.name: spec
    for spec in (
        MetricSpec("ttft_s", "TTFT", "s", Better.LOWER),
        MetricSpec("prefill_tok_per_s", "prefill", "tok/s", Better.HIGHER),
        MetricSpec("decode_tok_per_s", "decode", "tok/s", Better.HIGHER),
        MetricSpec("e2e_s", "turn latency", "s", Better.LOWER),
    )
}

# Run statuses whose figures are a finished measurement: melt's `completed` and an import's
# `imported`; a failed, interrupted, terminated, abandoned or still running run is not one.
FINISHED = frozenset({"completed", "imported"})

# Settings keys that are not knobs of the engine (where the file came from) or repeat a
# column already keyed on its own.
NOT_KNOBS = frozenset({"model_origin", "imported", "threads", "ctx", "engine_context_tokens"})


def key_properties(run: Mapping[str, Any]) -> dict[str, str]:
    """The properties that must match for two runs' figures to be comparable, as strings
    (unknown: ``?``). `run` is a stored run row with its ``environment``."""
    env = run.get("environment") or {}

    def text(value: Any) -> str:
        return "?" if value is None else str(value)

    props = {
        "device": f"{run['device']} ({text(env.get('cpu_model'))})",
        "model_sha256": text(run["model_sha256"]),
        "quant": text(run["model_quant"]),
        "framework": f"{run['framework']} {run['framework_version']}",
        "threads": text(run.get("threads")),
        "ctx": text(run.get("ctx")),
        "workload": f"{run['workload_name']} ({str(run['workload_sha256'])[:12]})",
        "compute": compute_property(run.get("compute")),
    }
    for name, value in sorted((run.get("settings") or {}).items()):
        if name not in NOT_KNOBS:
            props[f"settings.{name}"] = json.dumps(value, sort_keys=True, default=str)
    return props


def compute_property(record: Mapping[str, Any] | None) -> str:
    """Where the run's model ran, as its engine reported it (`melt.compute`): a GPU run and
    a CPU run are never the same row. ``?`` for a run stored before melt recorded it."""
    use = ComputeUse.from_record(dict(record) if record else None)
    return "?" if use is None else use.label


@dataclass(frozen=True, slots=True)
class RunSample:
    """One run: its key properties and, per metric, the per-turn values."""

    run_id: int
    properties: Mapping[str, str]
    values: Mapping[str, Sequence[float]]
    status: str = "completed"

    @property
    def problem(self) -> str | None:
        """Why this run's figures cannot stand for its side, or None."""
        if self.status not in FINISHED:
            return f"run {self.run_id} is {self.status}, not a finished measurement"
        if not any(self.values.values()):
            return f"run {self.run_id} has no measured turns"
        return None


@dataclass(frozen=True, slots=True)
class MetricComparison:
    metric: MetricSpec
    n_baseline: int
    n_candidate: int
    difference: Difference
    test: MannWhitney
    worse_pct: float  # how much worse the candidate is, in % (negative: better)
    regression: bool  # worse beyond the threshold with the CI excluding zero

    @property
    def verdict(self) -> str:
        d = self.difference
        if not (self.n_baseline and self.n_candidate):
            return "no data"
        if math.isnan(d.diff) or not d.ci_excludes_zero:
            return "within noise"
        if self.regression:
            return "REGRESSION"
        return "worse" if self.worse_pct > 0 else "better"


@dataclass(frozen=True, slots=True)
class RowComparison:
    """One matched row: the values of the properties that pair it, and its metrics."""

    key: Mapping[str, str]
    baseline_runs: tuple[int, ...]
    candidate_runs: tuple[int, ...]
    metrics: tuple[MetricComparison, ...]


@dataclass(frozen=True, slots=True)
class Unmatched:
    side: str
    key: Mapping[str, str]
    runs: tuple[int, ...]
    why: str = ""  # what the other side lacks


@dataclass(frozen=True, slots=True)
class Comparison:
    threshold_pct: float | None
    differences: Mapping[str, tuple[str, str]]  # property -> (baseline, candidate)
    pairing: tuple[str, ...]  # properties that pair rows (they vary inside a side)
    rows: tuple[RowComparison, ...]
    unmatched: tuple[Unmatched, ...] = field(default=())
    unusable: tuple[str, ...] = field(default=())  # why a regression gate cannot pass

    @property
    def regressed(self) -> bool:
        return any(m.regression for row in self.rows for m in row.metrics)


def _unusable(
    sides: Mapping[str, Sequence[RunSample]], rows: Sequence[RowComparison]
) -> tuple[str, ...]:
    """Why the comparison cannot show that the candidate did not regress: a run on either
    side that is not a finished measurement or measured nothing, or a matched metric that
    one side measured and the other did not (neither measuring it is no evidence either
    way: an imported run has no TTFT)."""
    found = [
        f"{side} {problem}" for side, runs in sides.items() for r in runs if (problem := r.problem)
    ]
    for row in rows:
        for m in row.metrics:
            if bool(m.n_baseline) != bool(m.n_candidate):
                missing = "baseline" if not m.n_baseline else "candidate"
                runs = row.baseline_runs if missing == "baseline" else row.candidate_runs
                found.append(
                    f"the {missing} (run {', '.join(map(str, runs))}) has no "
                    f"{m.metric.label} values to compare"
                )
    return tuple(found)


def _worse_pct(spec: MetricSpec, d: Difference) -> float:
    return -d.pct_change if spec.better is Better.HIGHER else d.pct_change


def compare_metric(
    spec: MetricSpec,
    baseline: Sequence[float],
    candidate: Sequence[float],
    threshold_pct: float | None,
) -> MetricComparison:
    d = median_difference(baseline, candidate)
    worse = _worse_pct(spec, d)
    significant_worse = d.ci_excludes_zero and worse > 0
    limit = 0.0 if threshold_pct is None else threshold_pct
    return MetricComparison(
        metric=spec,
        n_baseline=len(baseline),
        n_candidate=len(candidate),
        difference=d,
        test=mann_whitney_u(baseline, candidate),
        worse_pct=worse,
        regression=significant_worse and worse > limit,
    )


def _group(
    side: Sequence[RunSample], pairing: Sequence[str]
) -> dict[tuple[str, ...], list[RunSample]]:
    groups: dict[tuple[str, ...], list[RunSample]] = {}
    for run in side:
        key = tuple(run.properties.get(p, "?") for p in pairing)
        groups.setdefault(key, []).append(run)
    return groups


def _pooled(runs: Sequence[RunSample], metric: str) -> list[float]:
    return [v for run in runs for v in run.values.get(metric, ())]


def _why_unmatched(
    pairing: Sequence[str],
    key: tuple[str, ...],
    other: Mapping[tuple[str, ...], Any],
    other_side: str,
) -> str:
    """What the other side lacks for this row: each pairing value none of its runs has
    (e.g. the compute backend: a GPU row is never paired with a CPU one), else the
    combination."""
    missing = [
        f"{prop} {value}"
        for i, (prop, value) in enumerate(zip(pairing, key, strict=True))
        if all(k[i] != value for k in other)
    ]
    if missing:
        return f"the {other_side} has no run with {'; '.join(missing)}"
    return f"the {other_side} has no run with this combination of {', '.join(pairing)}"


def compare(
    baseline: Sequence[RunSample],
    candidate: Sequence[RunSample],
    metrics: Sequence[str] | None = None,
    threshold_pct: float | None = None,
) -> Comparison:
    """Pair rows, list what differs, and compare each metric (candidate − baseline)."""
    names = tuple(metrics) if metrics else tuple(METRICS)
    properties = sorted({p for run in (*baseline, *candidate) for p in run.properties})

    def values_of(side: Sequence[RunSample], prop: str) -> set[str]:
        return {run.properties.get(prop, "?") for run in side}

    pairing = tuple(
        p for p in properties if len(values_of(baseline, p)) > 1 or len(values_of(candidate, p)) > 1
    )
    differences = {
        p: (next(iter(values_of(baseline, p))), next(iter(values_of(candidate, p))))
        for p in properties
        if p not in pairing and values_of(baseline, p) != values_of(candidate, p)
    }
    base_groups, cand_groups = _group(baseline, pairing), _group(candidate, pairing)
    rows = []
    for key in sorted(base_groups.keys() & cand_groups.keys()):
        b, c = base_groups[key], cand_groups[key]
        rows.append(
            RowComparison(
                key=dict(zip(pairing, key, strict=True)),
                baseline_runs=tuple(r.run_id for r in b),
                candidate_runs=tuple(r.run_id for r in c),
                metrics=tuple(
                    compare_metric(METRICS[m], _pooled(b, m), _pooled(c, m), threshold_pct)
                    for m in names
                ),
            )
        )
    unmatched = [
        Unmatched(
            side,
            dict(zip(pairing, key, strict=True)),
            tuple(r.run_id for r in runs),
            _why_unmatched(pairing, key, other, "candidate" if side == "baseline" else "baseline"),
        )
        for side, mine, other in (
            ("baseline", base_groups, cand_groups),
            ("candidate", cand_groups, base_groups),
        )
        for key, runs in sorted(mine.items())
        if key not in other
    ]
    return Comparison(
        threshold_pct,
        differences,
        pairing,
        tuple(rows),
        tuple(unmatched),
        _unusable({"baseline": baseline, "candidate": candidate}, rows),
    )
