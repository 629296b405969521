"""Sample series: picking one channel out of a run's samples, and summarising it over time.

A series is a time-ordered tuple of (t_ns, value) points of one probe channel. The mean is
time-weighted (trapezoid area / duration) so uneven sampling does not bias it.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from melt.traces.sample import Provenance, Sample

NS_PER_S = 1e9

Point = tuple[int, float]


@dataclass(frozen=True, slots=True)
class Series:
    probe: str
    channel: str
    unit: str
    provenance: Provenance
    points: tuple[Point, ...]


def series_of(samples: Iterable[Sample], probe: str, channel: str) -> Series | None:
    """The points of one channel in time order, or None when it has none."""
    picked = sorted(
        (s for s in samples if s.probe == probe and s.channel == channel), key=lambda s: s.t_ns
    )
    if not picked:
        return None
    provenances = {s.provenance for s in picked}
    if len(provenances) != 1:
        raise ValueError(f"{probe}/{channel} mixes measured and estimated samples")
    return Series(
        probe=probe,
        channel=channel,
        unit=picked[0].unit,
        provenance=picked[0].provenance,
        points=tuple((s.t_ns, s.value) for s in picked),
    )


def channels_of(samples: Iterable[Sample]) -> list[tuple[str, str]]:
    """Every (probe, channel) present, in first-seen order."""
    return list(dict.fromkeys((s.probe, s.channel) for s in samples))


def value_at(points: Sequence[Point], t_ns: int) -> float:
    """Linear interpolation inside the series, the edge value outside it."""
    times = [t for t, _ in points]
    if t_ns <= times[0]:
        return points[0][1]
    if t_ns >= times[-1]:
        return points[-1][1]
    i = bisect_right(times, t_ns)
    (t0, v0), (t1, v1) = points[i - 1], points[i]
    return v0 + (v1 - v0) * (t_ns - t0) / (t1 - t0)


def trapezoid_area(points: Sequence[Point]) -> float:
    """Σ (t1 − t0) × (v0 + v1) / 2 over successive points, in value·ns."""
    return sum((t1 - t0) * (v0 + v1) / 2 for (t0, v0), (t1, v1) in pairwise(points))


@dataclass(frozen=True, slots=True)
class SeriesSummary:
    n: int
    first: float
    min: float
    mean: float
    max: float
    last: float
    duration_s: float

    def as_dict(self) -> dict[str, float | int]:
        return {
            "n": self.n,
            "first": self.first,
            "min": self.min,
            "mean": self.mean,
            "max": self.max,
            "last": self.last,
            "duration_s": self.duration_s,
        }


def summarise(points: Sequence[Point]) -> SeriesSummary:
    """First, min, time-weighted mean, max and last of a non-empty series."""
    if not points:
        raise ValueError("empty series")
    values = [v for _, v in points]
    duration_ns = points[-1][0] - points[0][0]
    mean = trapezoid_area(points) / duration_ns if duration_ns > 0 else sum(values) / len(values)
    return SeriesSummary(
        n=len(points),
        first=values[0],
        min=min(values),
        mean=mean,
        max=max(values),
        last=values[-1],
        duration_s=duration_ns / NS_PER_S,
    )
