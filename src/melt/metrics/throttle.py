"""Throttling detection, with the evidence that made the call.

Two rules, each evaluated on its own:

* `frequency`: the plateau is the 90th percentile (nearest rank) of a core's frequency over
  the run; the run throttled when the frequency stayed more than `drop_fraction` below the
  plateau for at least `min_duration_s` (a span runs from the first sample below the limit to
  the first sample back above it, or the last sample).
* `decode_rate`: the median decode rate of the last third of the turns fell more than
  `drop_fraction` below that of the first third while the temperature rose by at least
  `min_rise_c` between the first and the last turn.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from melt.metrics.timeline import NS_PER_S, Point, value_at

PLATEAU_QUANTILE = 0.9
DEFAULT_FREQ_DROP = 0.10
DEFAULT_MIN_DURATION_S = 1.0
DEFAULT_RATE_DROP = 0.15
DEFAULT_MIN_RISE_C = 2.0


@dataclass(frozen=True, slots=True)
class ThrottleFinding:
    rule: str
    throttled: bool
    onset_s: float | None
    evidence: dict[str, Any] = field(default_factory=dict)
    subject: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "subject": self.subject,
            "throttled": self.throttled,
            "onset_s": self.onset_s,
            "evidence": self.evidence,
        }


def nearest_rank(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def frequency_throttling(
    points: Sequence[Point],
    drop_fraction: float = DEFAULT_FREQ_DROP,
    min_duration_s: float = DEFAULT_MIN_DURATION_S,
) -> ThrottleFinding:
    """`onset_s` is seconds from the first sample to the start of the first long span."""
    if not points:
        raise ValueError("empty frequency series")
    plateau = nearest_rank([v for _, v in points], PLATEAU_QUANTILE)
    limit = plateau * (1 - drop_fraction)
    t_first = points[0][0]
    spans: list[dict[str, float]] = []
    start: int | None = None
    low = math.inf
    for t, v in points:
        if v < limit:
            if start is None:
                start, low = t, v
            low = min(low, v)
        elif start is not None:
            spans.append({"start_s": (start - t_first) / NS_PER_S, "end_ns": t, "min": low})
            start = None
    if start is not None:
        spans.append({"start_s": (start - t_first) / NS_PER_S, "end_ns": points[-1][0], "min": low})
    long_spans = []
    for span in spans:
        end_ns = span.pop("end_ns")
        span["duration_s"] = (end_ns - t_first) / NS_PER_S - span["start_s"]
        if span["duration_s"] >= min_duration_s:
            long_spans.append(span)
    return ThrottleFinding(
        rule="frequency",
        throttled=bool(long_spans),
        onset_s=long_spans[0]["start_s"] if long_spans else None,
        evidence={
            "plateau": plateau,
            "limit": limit,
            "min": min(v for _, v in points),
            "spans_below_limit": long_spans,
            "drop_fraction": drop_fraction,
            "min_duration_s": min_duration_s,
        },
    )


def decode_rate_throttling(
    turn_rates: Sequence[Point],
    temperature_c: Sequence[Point] | None,
    drop_fraction: float = DEFAULT_RATE_DROP,
    min_rise_c: float = DEFAULT_MIN_RISE_C,
) -> ThrottleFinding | None:
    """`turn_rates` are (first token time, decode tok/s) per turn; None with fewer than 3."""
    if len(turn_rates) < 3:
        return None
    k = max(1, len(turn_rates) // 3)
    early = statistics.median(r for _, r in turn_rates[:k])
    late = statistics.median(r for _, r in turn_rates[-k:])
    drop = 1 - late / early if early > 0 else 0.0
    rise = None
    if temperature_c:
        rise = value_at(temperature_c, turn_rates[-1][0]) - value_at(
            temperature_c, turn_rates[0][0]
        )
    throttled = drop > drop_fraction and rise is not None and rise >= min_rise_c
    onset = None
    if throttled:
        t0 = turn_rates[0][0]
        onset = next((t - t0) / NS_PER_S for t, r in turn_rates if r < early * (1 - drop_fraction))
    return ThrottleFinding(
        rule="decode_rate",
        throttled=throttled,
        onset_s=onset,
        evidence={
            "turns": len(turn_rates),
            "turns_compared": k,
            "early_decode_tok_per_s": early,
            "late_decode_tok_per_s": late,
            "drop_fraction": drop,
            "temperature_rise_c": rise,
            "threshold_drop_fraction": drop_fraction,
            "threshold_rise_c": min_rise_c,
        },
    )
