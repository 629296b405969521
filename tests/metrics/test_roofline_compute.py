"""Prefill against the compute bound: 2 FLOPs per weight per prompt token, known answers."""

import pytest

from melt.metrics.roofline import compute_bound


def test_compute_bound_known_answer() -> None:
    bound = compute_bound(2_000.0, 1_000_000_000, 4e12, "datasheet")
    assert bound.bound_tok_per_s == pytest.approx(2_000.0)  # 4e12 / (2 × 1e9)
    assert bound.fraction_of_limit == pytest.approx(1.0)
    doc = bound.as_dict()
    assert doc["prefill_percent_of_compute_limit"] == pytest.approx(100.0)
    assert doc["peak_flops_source"] == "datasheet"
