"""The stored shape of a turn, built once: a bench's measured turn, an imported run's turn,
and the turns a fleet's driver reads back to end a lost worker's run all go through here.

A turn row is its position (conversation, turn, warmup), its token counts, its timestamps on
the device's clock (None where the source had none: an import), the engine's own timers, and
the metrics `metrics.turn` computed from the trace. `measured_turn` is the inverse for
aggregation: what `metrics.run.aggregate_turns` needs, from a stored row.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from melt.metrics.run import MeasuredTurn
from melt.metrics.turn import TurnMetrics
from melt.traces import TurnTrace

TIMESTAMP_COLUMNS = (
    "wall_anchor_ns",
    "submit_ns",
    "prefill_start_ns",
    "prefill_done_ns",
    "first_token_ns",
    "last_token_ns",
    "end_ns",
)


def turn_row(
    metrics: TurnMetrics,
    *,
    conversation_index: int,
    conversation_id: str,
    turn_index: int,
    warmup: bool,
    prompt_tokens: int | None,
    prompt_tokens_evaluated: int | None,
    prompt_tokens_reused: int | None,
    generated_tokens: int,
    stop_reason: str,
    engine_timers: Mapping[str, Any] | None,
    output_text: str = "",
    history_turns_dropped: int = 0,
    timestamps: Mapping[str, int | None] | None = None,
    rss_bytes: int | None = None,
) -> dict[str, Any]:
    """One turn's columns (`Store.add_turn`). A metric that is not a number (NaN: the
    source could not time it) is stored as unknown (NULL), never as a figure."""
    times = dict.fromkeys(TIMESTAMP_COLUMNS) | dict(timestamps or {})
    unknown = sorted(set(times) - set(TIMESTAMP_COLUMNS))
    if unknown:
        raise ValueError(f"not turn timestamps: {', '.join(unknown)}")
    return {
        "conversation_index": conversation_index,
        "conversation_id": conversation_id,
        "turn_index": turn_index,
        "warmup": warmup,
        **times,
        "prompt_tokens": prompt_tokens,
        "prompt_tokens_evaluated": prompt_tokens_evaluated,
        "prompt_tokens_reused": prompt_tokens_reused,
        "generated_tokens": generated_tokens,
        "stop_reason": stop_reason,
        "history_turns_dropped": history_turns_dropped,
        "rss_bytes": rss_bytes,
        "engine_timers": None if engine_timers is None else dict(engine_timers),
        **{f.name: _known(getattr(metrics, f.name)) for f in fields(TurnMetrics)},
        "output_text": output_text,
    }


def trace_row(trace: TurnTrace, metrics: TurnMetrics, conversation_id: str) -> dict[str, Any]:
    """The row of a turn a framework traced."""
    return turn_row(
        metrics,
        conversation_index=trace.conversation_index,
        conversation_id=conversation_id,
        turn_index=trace.turn_index,
        warmup=trace.warmup,
        prompt_tokens=trace.prompt_tokens,
        prompt_tokens_evaluated=trace.prompt_tokens_evaluated,
        prompt_tokens_reused=trace.prompt_tokens_reused,
        generated_tokens=trace.generated_tokens,
        stop_reason=trace.stop_reason,
        engine_timers=trace.engine.raw if trace.engine else None,
        output_text=trace.output_text,
        history_turns_dropped=trace.history_turns_dropped,
        timestamps={
            "wall_anchor_ns": trace.wall_anchor_ns,
            "submit_ns": trace.submit_ns,
            "prefill_start_ns": trace.prefill_start_ns,
            "prefill_done_ns": trace.prefill_done_ns,
            "first_token_ns": trace.token_ns[0] if trace.token_ns else None,
            "last_token_ns": trace.token_ns[-1] if trace.token_ns else None,
            "end_ns": trace.end_ns,
        },
        rss_bytes=trace.rss_bytes,
    )


def measured(trace: TurnTrace, metrics: TurnMetrics) -> MeasuredTurn:
    """What aggregation takes from a traced turn."""
    return MeasuredTurn(
        metrics=metrics,
        prompt_tokens_evaluated=trace.prompt_tokens_evaluated,
        prompt_tokens_reused=trace.prompt_tokens_reused,
        generated_tokens=trace.generated_tokens,
        warmup=trace.warmup,
    )


def measured_turn(row: Mapping[str, Any]) -> MeasuredTurn:
    """What aggregation takes from a stored turn row (the inverse of `turn_row`)."""
    values = {f.name: row[f.name] for f in fields(TurnMetrics)}
    if values["e2e_s"] is None:
        values["e2e_s"] = math.nan
    return MeasuredTurn(
        metrics=TurnMetrics(**values),
        prompt_tokens_evaluated=row["prompt_tokens_evaluated"],
        prompt_tokens_reused=row["prompt_tokens_reused"],
        generated_tokens=row["generated_tokens"],
        warmup=row["warmup"],
    )


def _known(value: float | None) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value
