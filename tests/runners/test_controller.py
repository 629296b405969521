"""A server framework's traces (arrival times on the controller) put on the device's clock."""

from __future__ import annotations

from melt.devices.base import ClockOffset
from melt.runners.controller import on_device_clock
from melt.traces import TurnTrace

AHEAD = ClockOffset(1_000_000_000_000, 2_000_000, 4_000_000, 8, "a phone 1000 s ahead")
TRACE = TurnTrace(
    conversation_index=0,
    turn_index=1,
    warmup=False,
    wall_anchor_ns=1_700_000_000_000_000_000,
    submit_ns=5_000,
    prefill_start_ns=None,
    prefill_done_ns=5_500,
    token_ns=(6_000, 6_400, 7_000),
    end_ns=7_100,
    prompt_tokens=12,
    prompt_tokens_evaluated=4,
    prompt_tokens_reused=8,
    stop_reason="eog",
    cpu_time_ns=900,
)


def test_every_instant_moves_by_the_offset_and_nothing_else_changes() -> None:
    moved = on_device_clock(TRACE, AHEAD)
    shift = AHEAD.offset_ns
    assert moved.submit_ns == 5_000 + shift and moved.end_ns == 7_100 + shift
    assert moved.prefill_done_ns == 5_500 + shift and moved.prefill_start_ns is None
    assert moved.token_ns == (6_000 + shift, 6_400 + shift, 7_000 + shift)
    assert moved.wall_anchor_ns == TRACE.wall_anchor_ns  # a calendar time, not a clock reading
    assert (moved.cpu_time_ns, moved.prompt_tokens, moved.stop_reason) == (900, 12, "eog")
