from __future__ import annotations

import pytest

from melt.metrics.timeline import group_rows, group_series, summarise, value_at
from melt.traces.sample import Provenance, Sample

S = 1_000_000_000


def test_series_are_grouped_per_channel_first_seen_first_in_time_order() -> None:
    samples = [
        Sample(2, "cpu", "cpu0", 50.0, "%"),
        Sample(1, "cpu", "cpu0", 10.0, "%"),
        Sample(1, "cpu", "cpu1", 99.0, "%"),
    ]
    cpu0, cpu1 = group_series(samples)
    assert (cpu0.probe, cpu0.channel, cpu0.unit) == ("cpu", "cpu0", "%")
    assert cpu0.points == ((1, 10.0), (2, 50.0)) and cpu1.points == ((1, 99.0),)
    assert group_series([]) == []


def test_store_rows_and_samples_group_alike() -> None:
    rows = [(1, "rapl", "power", 2.0, "W", "measured"), (2, "rapl", "power", 3.0, "W", "measured")]
    samples = [Sample(1, "rapl", "power", 2.0, "W"), Sample(2, "rapl", "power", 3.0, "W")]
    assert group_rows(rows) == group_series(samples)


def test_series_refuses_to_mix_measured_and_estimated() -> None:
    samples = [
        Sample(1, "p", "power", 1.0, "W"),
        Sample(2, "p", "power", 1.0, "W", Provenance.ESTIMATED),
    ]
    with pytest.raises(ValueError, match="mixes measured and estimated"):
        group_series(samples)


def test_time_weighted_summary() -> None:
    # 10 for 1 s then ramp 10→40 over 2 s: area 10 + 50 = 60 over 3 s → mean 20
    points = ((0, 10.0), (S, 10.0), (3 * S, 40.0))
    summary = summarise(points)
    assert (summary.first, summary.min, summary.max, summary.last) == (10.0, 10.0, 40.0, 40.0)
    assert summary.mean == pytest.approx(20.0)
    assert summary.duration_s == 3.0
    assert summarise(((5, 7.0),)).mean == 7.0
    assert value_at(points, 2 * S) == pytest.approx(25.0)
