"""Run- and experiment-level aggregates over measured (non-warmup) turns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from melt.metrics.stats import Aggregate, aggregate
from melt.metrics.turn import TurnMetrics

AGGREGATED_FIELDS = ("ttft_s", "prefill_tok_per_s", "decode_tok_per_s", "e2e_s", "cpu_time_s")


@dataclass(frozen=True, slots=True)
class TurnAggregates:
    turns: int
    prompt_tokens_evaluated: int | None
    prompt_tokens_reused: int | None
    generated_tokens: int
    ttft_s: Aggregate
    prefill_tok_per_s: Aggregate
    decode_tok_per_s: Aggregate
    e2e_s: Aggregate
    cpu_time_s: Aggregate

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "turns": self.turns,
            "prompt_tokens_evaluated": self.prompt_tokens_evaluated,
            "prompt_tokens_reused": self.prompt_tokens_reused,
            "generated_tokens": self.generated_tokens,
        }
        for name in AGGREGATED_FIELDS:
            out[name] = getattr(self, name).as_dict()
        return out


@dataclass(frozen=True, slots=True)
class MeasuredTurn:
    """What aggregation needs from one turn: its metrics and token counts (None: the
    framework did not say)."""

    metrics: TurnMetrics
    prompt_tokens_evaluated: int | None
    prompt_tokens_reused: int | None
    generated_tokens: int
    warmup: bool


def _known_sum(values: Sequence[int | None]) -> int | None:
    """The total, or None when any part is unknown: a partial sum would be a wrong record."""
    if any(v is None for v in values):
        return None
    return sum(v for v in values if v is not None)


def aggregate_turns(turns: Sequence[MeasuredTurn]) -> TurnAggregates:
    """Aggregate the non-warmup turns; warmup turns are stored but never counted here."""
    measured = [t for t in turns if not t.warmup]
    columns = {
        name: aggregate([getattr(t.metrics, name) for t in measured]) for name in AGGREGATED_FIELDS
    }
    return TurnAggregates(
        turns=len(measured),
        prompt_tokens_evaluated=_known_sum([t.prompt_tokens_evaluated for t in measured]),
        prompt_tokens_reused=_known_sum([t.prompt_tokens_reused for t in measured]),
        generated_tokens=sum(t.generated_tokens for t in measured),
        **columns,
    )
