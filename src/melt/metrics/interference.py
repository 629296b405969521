"""Interference a run can see: other work on the device while it was measured.

A run's figures describe the model only when the model had the machine: on a 2-core
machine, decode at 2 threads falls from ~150 to 3-30 tok/s as soon as anything else runs.
Three signs, each judged on its own over one window (the run, or its decode phase):

* `other_cpu`: the cores the whole system kept busy (the mean of each core's busy %, from
  /proc/stat) minus the cores the engine's process used (its CPU seconds over the window's
  length). More than `OTHER_CORES_MAX` cores on average is another process competing.
* `steal`: time the hypervisor gave the vCPUs to another guest (/proc/stat `steal`, % of all
  CPU time). More than `STEAL_MAX_PCT` % means the cores the run was given were not its own.
* `throttling`: thermal or frequency throttling already detected (`metrics.throttle`).

Thresholds: /proc/stat counts jiffies (10 ms at USER_HZ=100), so each busy % sample of one
core is uncertain by ±10 % at 10 Hz; averaged over a window of a few seconds the quiet
background of a Linux system (kernel threads, the sampler's own neighbours) stays below 0.1
core. 0.25 core is well above that noise and far below what a competing busy process takes
(a whole core). Steal on a host that is not oversubscribed is a fraction of a percent; 5 %
of the CPU time is a visible share of a decode rate.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

OTHER_CORES_MAX = 0.25
STEAL_MAX_PCT = 5.0


@dataclass(frozen=True, slots=True)
class Interference:
    """Whether the window was disturbed, why (`reasons`, one line each), the figures behind
    it (cores used by other processes, steal %), and what could not be judged (`unknown`)."""

    flagged: bool
    reasons: tuple[str, ...]
    other_cores: float | None
    engine_cores: float | None
    system_cores: float | None
    steal_pct: float | None
    throttled: bool
    unknown: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return {
            "flagged": self.flagged,
            "reasons": list(self.reasons),
            "other_cores": self.other_cores,
            "engine_cores": self.engine_cores,
            "system_cores": self.system_cores,
            "steal_pct": self.steal_pct,
            "throttled": self.throttled,
            "unknown": list(self.unknown),
            "thresholds": {"other_cores": OTHER_CORES_MAX, "steal_pct": STEAL_MAX_PCT},
        }


def assess_interference(
    busy_pct_per_core: Mapping[str, Sequence[float]],
    steal_pct: Sequence[float],
    engine_cpu_s: float | None,
    window_s: float,
    cores: int,
    throttled: bool,
    during: str = "the run",
) -> Interference:
    """Judge one window of `window_s` seconds.

    `busy_pct_per_core`: busy % samples (0-100) of each core over the window (the `cpuN`
    channels, not the aggregate); `steal_pct`: the aggregate steal % samples; `engine_cpu_s`:
    CPU seconds the engine's process used in the window (None: not measured); `cores`: the
    device's logical cores; `throttled`: throttling already detected; `during` names the
    window in the reasons ("decode").
    """
    if window_s <= 0 or cores <= 0:
        raise ValueError(f"window_s and cores must be positive (got {window_s}, {cores})")
    reasons: list[str] = []
    unknown: list[str] = []
    means = [statistics.fmean(v) for v in busy_pct_per_core.values() if len(v) > 0]
    system = sum(means) / 100.0 if means else None
    engine = engine_cpu_s / window_s if engine_cpu_s is not None else None
    other: float | None = None
    if system is None:
        unknown.append("no per-core busy samples: CPU use by other processes unknown")
    elif engine is None:
        unknown.append("engine CPU time not measured: CPU use by other processes unknown")
    else:
        other = max(0.0, system - engine)
        if other > OTHER_CORES_MAX:
            reasons.append(
                f"other processes used {other:.2f} of {cores} cores on average during {during} "
                f"(system {system:.2f}, engine {engine:.2f}; limit {OTHER_CORES_MAX})"
            )
    steal = statistics.fmean(steal_pct) if len(steal_pct) > 0 else None
    if steal is None:
        unknown.append("no steal samples")
    elif steal > STEAL_MAX_PCT:
        reasons.append(f"steal {steal:.1f}% of CPU time during {during} (limit {STEAL_MAX_PCT:g}%)")
    if throttled:
        reasons.append(f"thermal or frequency throttling detected during {during}")
    return Interference(
        flagged=bool(reasons),
        reasons=tuple(reasons),
        other_cores=other,
        engine_cores=engine,
        system_cores=system,
        steal_pct=steal,
        throttled=throttled,
        unknown=tuple(unknown),
    )
