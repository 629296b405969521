"""Sample series: picking one channel out of a run's samples, and summarising it over time.

A series is a time-ordered tuple of (t_ns, value) points of one probe channel. The mean is
time-weighted (trapezoid area / duration) so uneven sampling does not bias it.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

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


# A sample as a row of plain values: t_ns, probe, channel, value, unit, provenance (the store's
# rows are these tuples; a `Sample` becomes one with `sample_row`).
SampleRow = tuple[int, str, str, float, str, str]


def sample_row(s: Sample) -> SampleRow:
    return (s.t_ns, s.probe, s.channel, s.value, s.unit, str(s.provenance))


def group_rows(rows: Iterable[SampleRow]) -> list[Series]:
    """The one grouping of samples into series: one `Series` per (probe, channel), first
    seen first, each in time order, in one pass. A series has one unit and one provenance:
    a channel that mixes measured and estimated samples is a `ValueError`."""
    points: dict[tuple[str, str], list[Point]] = {}
    kinds: dict[tuple[str, str], tuple[str, str]] = {}
    ordered: dict[tuple[str, str], bool] = {}
    for t_ns, probe, channel, value, unit, provenance in rows:
        key = (probe, channel)
        found = points.get(key)
        if found is None:
            found = points[key] = []
            kinds[key] = (unit, provenance)
            ordered[key] = True
        elif kinds[key][1] != provenance:
            raise ValueError(f"{probe}/{channel} mixes measured and estimated samples")
        elif t_ns < found[-1][0]:
            ordered[key] = False
        found.append((t_ns, value))
    return [
        Series(
            probe,
            channel,
            unit,
            Provenance(provenance),
            tuple(
                points[(probe, channel)]
                if ordered[(probe, channel)]
                else sorted(points[(probe, channel)], key=lambda p: p[0])
            ),
        )
        for (probe, channel), (unit, provenance) in kinds.items()
    ]


def group_series(samples: Iterable[Sample]) -> list[Series]:
    """`group_rows` over `Sample`s."""
    return group_rows(sample_row(s) for s in samples)


def series_document(
    samples: Iterable[Sample], sources: Mapping[str, str | None]
) -> dict[str, dict[str, Any]]:
    """Every series of a run keyed `probe/channel`, as parallel `t_ns` / `value` lists with
    unit, provenance and the probe's source (`sources`, by probe): the one stored shape of
    a run's samples (`melt bench --json`, `melt export`)."""
    return {
        f"{s.probe}/{s.channel}": {
            "probe": s.probe,
            "channel": s.channel,
            "unit": s.unit,
            "provenance": str(s.provenance),
            "source": sources.get(s.probe),
            "t_ns": [t for t, _ in s.points],
            "value": [v for _, v in s.points],
        }
        for s in group_series(samples)
    }


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
