"""Interference flags on hand-made windows with known answers."""

from __future__ import annotations

import pytest

from melt.metrics.interference import OTHER_CORES_MAX, STEAL_MAX_PCT, assess_interference

QUIET = {"cpu0": [98.0, 100.0, 99.0], "cpu1": [2.0, 0.0, 1.0]}  # 1.00 core busy in all


def test_a_quiet_window_is_not_flagged() -> None:
    # the engine used 9.8 CPU s of a 10 s window: 0.98 core; the system 1.00: 0.02 other
    found = assess_interference(QUIET, [0.1, 0.2], 9.8, 10.0, 2, throttled=False)
    assert not found.flagged and found.reasons == ()
    assert found.other_cores == pytest.approx(0.02)
    assert found.engine_cores == pytest.approx(0.98)
    assert found.system_cores == pytest.approx(1.0)
    assert found.steal_pct == pytest.approx(0.15)
    assert found.unknown == ()


def test_other_processes_using_cores_are_flagged_with_the_evidence() -> None:
    busy = {"cpu0": [100.0, 100.0], "cpu1": [80.0, 80.0]}  # 1.8 cores
    found = assess_interference(busy, [0.0], 10.0, 10.0, 2, throttled=False, during="decode")
    assert found.flagged and found.other_cores == pytest.approx(0.8)
    assert found.reasons == (
        "other processes used 0.80 of 2 cores on average during decode "
        f"(system 1.80, engine 1.00; limit {OTHER_CORES_MAX})",
    )


def test_the_other_cores_limit_is_exclusive() -> None:
    busy = {"cpu0": [100.0], "cpu1": [100 * OTHER_CORES_MAX]}
    assert not assess_interference(busy, [], 10.0, 10.0, 2, throttled=False).flagged
    busy["cpu1"] = [100 * OTHER_CORES_MAX + 1.0]
    assert assess_interference(busy, [], 10.0, 10.0, 2, throttled=False).flagged


def test_steal_above_the_limit_is_flagged() -> None:
    found = assess_interference(QUIET, [10.0, 14.0], 10.0, 10.0, 2, throttled=False)
    assert found.flagged
    assert found.reasons == (f"steal 12.0% of CPU time during the run (limit {STEAL_MAX_PCT:g}%)",)
    assert not assess_interference(QUIET, [STEAL_MAX_PCT], 10.0, 10.0, 2, False).flagged


def test_throttling_already_detected_is_a_reason_of_its_own() -> None:
    found = assess_interference(QUIET, [0.0], 10.0, 10.0, 2, throttled=True)
    assert found.reasons == ("thermal or frequency throttling detected during the run",)


def test_every_sign_is_reported_together() -> None:
    busy = {"cpu0": [100.0], "cpu1": [100.0]}
    found = assess_interference(busy, [20.0], 5.0, 10.0, 2, throttled=True)
    assert [r.split()[0] for r in found.reasons] == ["other", "steal", "thermal"]
    assert found.as_dict()["other_cores"] == pytest.approx(1.5)


def test_what_cannot_be_judged_is_said_not_guessed() -> None:
    found = assess_interference({}, [], None, 10.0, 2, throttled=False)
    assert not found.flagged and found.other_cores is None and found.steal_pct is None
    assert found.unknown == (
        "no per-core busy samples: CPU use by other processes unknown",
        "no steal samples",
    )
    engine_unknown = assess_interference(QUIET, [0.0], None, 10.0, 2, throttled=False)
    assert engine_unknown.unknown == (
        "engine CPU time not measured: CPU use by other processes unknown",
    )


def test_a_window_needs_a_length_and_cores() -> None:
    with pytest.raises(ValueError, match="positive"):
        assess_interference(QUIET, [], 1.0, 0.0, 2, throttled=False)
