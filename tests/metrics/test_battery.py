from __future__ import annotations

import pytest

from melt.metrics.battery import battery_cost


def test_percent_per_conversation_and_conversations_per_charge() -> None:
    cost = battery_cost([10.0, 12.0, 14.0], charge_full_mah=4410.0)
    assert cost is not None
    assert cost.mean_discharge_mah_per_conversation == 12.0
    assert cost.percent_per_conversation == pytest.approx(100 * 12 / 4410)
    assert cost.conversations_per_charge == pytest.approx(4410 / 12)


def test_nothing_to_say_without_data_or_capacity() -> None:
    assert battery_cost([], 4000.0) is None
    assert battery_cost([1.0], 0.0) is None
    cost = battery_cost([0.0], 4000.0)
    assert cost is not None and cost.conversations_per_charge is None
