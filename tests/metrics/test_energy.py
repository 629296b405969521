"""Energy integration checked against answers worked out by hand (1 s = 10⁹ ns)."""

from __future__ import annotations

import pytest

from melt.metrics.energy import TurnWindows, average, integrate, turn_energy, window_energy

S = 1_000_000_000
# power 2 W at 0 s rising linearly to 4 W at 2 s, then 4 W flat to 4 s
RAMP = ((0, 2.0), (1 * S, 3.0), (2 * S, 4.0), (4 * S, 4.0))


def test_whole_series_is_the_trapezoid_area() -> None:
    # (2+3)/2 + (3+4)/2 + 4×2 = 2.5 + 3.5 + 8 = 14 J
    assert integrate(RAMP, 0, 4 * S) == pytest.approx(14.0)


def test_window_edges_between_samples_are_interpolated() -> None:
    # 0.5 s → 1.5 s: power 2.5 → 3 → 3.5 W; area 0.5×(2.5+3)/2 + 0.5×(3+3.5)/2 = 3.0 J
    assert integrate(RAMP, S // 2, 3 * S // 2) == pytest.approx(3.0)
    # a window inside one interval: 1.25 → 1.75 s, 3.25 → 3.75 W: 0.5 × 3.5 = 1.75 J
    assert integrate(RAMP, 5 * S // 4, 7 * S // 4) == pytest.approx(1.75)


def test_edges_held_briefly_and_refused_beyond_the_hold() -> None:
    # 0.2 s before the first sample at 2 W: 0.4 J more than the 14 J
    assert integrate(RAMP, -S // 5, 4 * S) == pytest.approx(14.4)
    assert integrate(RAMP, -S, 4 * S) is None
    assert integrate(RAMP, 0, 5 * S) is None
    assert integrate((), 0, 1) is None
    with pytest.raises(ValueError, match="ends before it starts"):
        integrate(RAMP, 2, 1)


def test_average_and_baseline_subtraction() -> None:
    assert average(RAMP, 2 * S, 4 * S) == pytest.approx(4.0)
    w = window_energy(RAMP, 0, 2 * S, baseline_w=1.5)
    assert w is not None
    # 6 J raw over 2 s; baseline 1.5 W × 2 s = 3 J; net 3 J; average power 3 W
    assert (w.energy_j, w.net_energy_j, w.avg_power_w) == pytest.approx((6.0, 3.0, 3.0))


def test_turn_phases_per_token_and_melt_comparison_figures() -> None:
    power = ((0, 5.0), (10 * S, 5.0))
    current = ((0, 1.2), (10 * S, 1.2))
    windows = TurnWindows(
        submit_ns=1 * S,
        prefill_start_ns=None,
        prefill_done_ns=None,
        first_token_ns=3 * S,
        last_token_ns=7 * S,
        end_ns=8 * S,
        prompt_tokens_evaluated=40,
        generated_tokens=21,
    )
    e = turn_energy(power, windows, baseline_w=1.0, current_a=current)
    assert e is not None
    # turn 1→8 s: 35 J raw, 28 J net; prefill 1→3 s: 10 J raw, 8 J net over 40 tokens
    assert (e.turn.energy_j, e.turn.net_energy_j) == pytest.approx((35.0, 28.0))
    assert e.prefill is not None and e.prefill.energy_j == pytest.approx(10.0)
    assert e.j_per_prompt_token == pytest.approx(8.0 / 40)
    # decode 3→7 s: 20 J raw, 16 J net for 20 tokens after the first
    assert e.decode is not None and e.decode.energy_j == pytest.approx(20.0)
    assert e.j_per_generated_token == pytest.approx(16.0 / 20)
    # energy_pt: 35 J = 35/3.6 mWh over 21 output tokens (raw, like MELT)
    assert e.energy_pt_mwh_per_token == pytest.approx(35 / 3.6 / 21)
    # 1.2 A × 7 s = 8.4 C = 8.4/3.6 mAh = 2.333 mAh; per token / 21
    assert e.discharge_mah == pytest.approx(8.4 / 3.6)
    assert e.discharge_pt_mah_per_token == pytest.approx(8.4 / 3.6 / 21)


def test_turn_without_tokens_or_baseline() -> None:
    power = ((0, 2.0), (4 * S, 2.0))
    windows = TurnWindows(
        submit_ns=0,
        prefill_start_ns=0,
        prefill_done_ns=S,
        first_token_ns=None,
        last_token_ns=None,
        end_ns=2 * S,
        prompt_tokens_evaluated=10,
        generated_tokens=0,
    )
    e = turn_energy(power, windows)
    assert e is not None
    assert e.turn.net_energy_j is None
    assert e.j_per_prompt_token == pytest.approx(0.2)
    assert e.decode is None and e.j_per_generated_token is None
    assert e.energy_pt_mwh_per_token is None and e.discharge_mah is None
    assert turn_energy((), windows) is None
