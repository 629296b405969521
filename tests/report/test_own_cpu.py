"""A sampler's own CPU cost in the reports: its figure, or that it was not measured (never a
0.0 that looks measured)."""

from __future__ import annotations

from melt.report.samples import sampling_text

RECORD = {
    "target_hz": 5.0,
    "achieved_hz": 4.9,
    "started_ns": 0,
    "stopped_ns": 2_000_000_000,
    "ticks": 10,
    "dropped": 0,
    "cpu_s_per_s": None,
    "read_errors": {},
}


def test_a_measured_cpu_time_is_shown_with_its_share_of_a_core() -> None:
    text = sampling_text({**RECORD, "cpu_s": 0.04, "cpu_s_per_s": 0.02}).plain
    assert "own CPU 0.040 s (2.00% of one core)" in text


def test_an_unmeasured_cpu_time_says_so() -> None:
    text = sampling_text({**RECORD, "cpu_s": None}).plain
    assert "own CPU not measured" in text and "0.000" not in text
