"""Thermal figures of one zone over a run: start, max, rise and time above a comfort threshold.

Time above the threshold counts the part of each interval between two samples that lies
above it, with the crossing instant linearly interpolated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from melt.metrics.timeline import NS_PER_S, Point

DEFAULT_COMFORT_C = 40.0


@dataclass(frozen=True, slots=True)
class ZoneThermal:
    start_c: float
    max_c: float
    rise_c: float
    threshold_c: float
    time_above_s: float

    def as_dict(self) -> dict[str, float]:
        return {
            "start_c": self.start_c,
            "max_c": self.max_c,
            "rise_c": self.rise_c,
            "threshold_c": self.threshold_c,
            "time_above_s": self.time_above_s,
        }


def time_above_s(points: Sequence[Point], threshold: float) -> float:
    total_ns = 0.0
    for (t0, v0), (t1, v1) in pairwise(points):
        if v0 > threshold and v1 > threshold:
            total_ns += t1 - t0
        elif v0 > threshold or v1 > threshold:
            crossing = t0 + (t1 - t0) * (threshold - v0) / (v1 - v0)
            total_ns += (t1 - crossing) if v1 > threshold else (crossing - t0)
    return total_ns / NS_PER_S


def zone_thermal(
    points: Sequence[Point], threshold_c: float = DEFAULT_COMFORT_C, baseline_c: float | None = None
) -> ZoneThermal:
    """Rise is max − idle baseline when given, else max − the first sample."""
    if not points:
        raise ValueError("empty temperature series")
    start = points[0][1]
    peak = max(v for _, v in points)
    return ZoneThermal(
        start_c=start,
        max_c=peak,
        rise_c=peak - (start if baseline_c is None else baseline_c),
        threshold_c=threshold_c,
        time_above_s=time_above_s(points, threshold_c),
    )
