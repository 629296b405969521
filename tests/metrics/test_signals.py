"""Signal metrics of a run from hand-made samples, answers worked out by hand."""

from __future__ import annotations

import pytest

from melt.metrics.energy import TurnWindows
from melt.metrics.signals import MeasuredTurnWindow, PowerSource, run_signal_metrics
from melt.traces.sample import Provenance, Sample

S = 1_000_000_000


def _samples() -> list[Sample]:
    out = []
    # battery power: 2 W at 0 s and 1 s, 5 W from 2 s to 10 s (a ramp between 1 s and 2 s)
    for t in range(11):
        out.append(Sample(t * S, "battery", "power", 2.0 if t <= 1 else 5.0, "W"))
        out.append(Sample(t * S, "battery", "current", 1.0, "A"))
        out.append(Sample(t * S, "thermal", "skin", 30.0 + t, "°C"))
        out.append(Sample(t * S, "cpufreq", "cpu0", 1800.0, "MHz"))
    return out


def _turn(conv: int, submit: int, first: int, last: int, end: int, prompt: int, gen: int):
    return MeasuredTurnWindow(
        conversation_index=conv,
        windows=TurnWindows(
            submit_ns=submit * S,
            prefill_start_ns=None,
            prefill_done_ns=None,
            first_token_ns=first * S,
            last_token_ns=last * S,
            end_ns=end * S,
            prompt_tokens_evaluated=prompt,
            generated_tokens=gen,
        ),
        decode_tok_per_s=(gen - 1) / (last - first),
    )


TURNS = [_turn(0, 1, 2, 4, 4, 10, 5), _turn(1, 5, 6, 8, 9, 20, 3)]
BATTERY = PowerSource(
    "battery", Provenance.MEASURED, "battery", current_channel="current", charge_full_mah=4000.0
)


def test_energy_per_phase_token_and_battery() -> None:
    m = run_signal_metrics(_samples(), TURNS, power=BATTERY, idle=(0, S), comfort_c=35.0)
    e = m.energy
    assert e is not None
    assert e.baseline_w == pytest.approx(2.0)
    # turn 1: prefill 1→2 s = 3.5 J (ramp), net 1.5 J / 10 tokens; decode 2→4 s = 10 J,
    # net 6 J / 4 tokens. turn 2: prefill 5→6 s 5 J, net 3 J / 20; decode 6→8 s net 6 J / 2
    per_prompt = [t.j_per_prompt_token for t in e.turns]
    per_generated = [t.j_per_generated_token for t in e.turns]
    assert per_prompt == pytest.approx([0.15, 0.15])
    assert per_generated == pytest.approx([1.5, 3.0])
    assert e.j_per_generated_token.median == pytest.approx(2.25)
    # energy_pt is the raw whole-turn energy: 13.5 J over 5 tokens, 20 J over 3 tokens
    assert [t.energy_pt_mwh_per_token for t in e.turns] == pytest.approx(
        [13.5 / 3.6 / 5, 20 / 3.6 / 3]
    )
    # run 1 → 9 s: 3.5 + 5 × 7 = 38.5 J
    assert e.run is not None and e.run.energy_j == pytest.approx(38.5)
    # 1 A for 3 s and 4 s: 3/3.6 and 4/3.6 mAh per conversation, of 4000 mAh
    assert e.battery is not None
    mean_mah = (3 / 3.6 + 4 / 3.6) / 2
    assert e.battery.percent_per_conversation == pytest.approx(100 * mean_mah / 4000)
    assert e.battery.conversations_per_charge == pytest.approx(4000 / mean_mah)


def test_thermal_throttling_and_timelines() -> None:
    m = run_signal_metrics(_samples(), TURNS, power=None, idle=(0, S), comfort_c=35.0)
    assert m.energy is None
    skin = m.thermal["skin"]
    # idle average over 0→1 s is 30.5 °C; max 40 °C; above 35 °C from 5 s to 10 s
    assert (skin.max_c, skin.rise_c, skin.time_above_s) == pytest.approx((40.0, 9.5, 5.0))
    (freq,) = m.throttling  # two turns are too few for the decode-rate rule
    assert freq.rule == "frequency" and not freq.throttled
    power = next(t for t in m.timelines if (t.probe, t.channel) == ("battery", "power"))
    # time-weighted mean: (2 + 3.5 + 8 × 5) / 10 = 4.55 W
    assert power.summary.mean == pytest.approx(4.55)


def test_over_time_buckets_for_sustained_runs() -> None:
    m = run_signal_metrics(_samples(), TURNS, power=BATTERY, over_time_buckets=2)
    first, second = m.over_time
    # span 1 → 9 s in halves: turn 1 starts in the first, turn 2 in the second
    assert (first["turns"], second["turns"]) == (1, 1)
    assert first["decode_tok_per_s"] == pytest.approx(2.0)
    assert first["avg_power_w"] == pytest.approx((3.5 + 5 * 3) / 4)
    assert second["max_temp_c"] == 38.0


def test_frequency_rule_ignores_a_core_clocking_down_while_idle() -> None:
    # cpu0 at 2400 MHz while busy for 3 s, then idle at 600 MHz for 3 s: the governor, not heat
    samples = []
    for t in range(7):
        busy = t <= 3
        samples.append(Sample(t * S, "cpu", "cpu0", 100.0 if busy else 2.0, "%"))
        samples.append(Sample(t * S, "cpufreq", "cpu0", 2400.0 if busy else 600.0, "MHz"))
    (finding,) = run_signal_metrics(samples, []).throttling
    assert not finding.throttled
    # the same frequencies while the core stays busy are throttling, from 4 s on
    busy_all = [s for s in samples if s.probe == "cpufreq"] + [
        Sample(t * S, "cpu", "cpu0", 100.0, "%") for t in range(7)
    ]
    (finding,) = run_signal_metrics(busy_all, []).throttling
    assert finding.throttled and finding.onset_s == 4.0 and finding.subject == "cpu0"
