"""Cross-check of our decode rate against the framework's own counters.

llama.cpp counts the first sampled token in its prompt phase and times one `llama_decode`
per later token, so over a turn that generated n tokens its "eval" phase holds the n − 1
decode steps that our (n − 1) / (last − first) also spans. Summed over a run, the two
rates differ only by what happens between decode calls (sampling, our Python loop).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from melt.traces import TurnTrace

CONSISTENCY_WARN_FRACTION = 0.03


@dataclass(frozen=True, slots=True)
class DecodeConsistency:
    timestamps_tok_per_s: float
    engine_tok_per_s: float
    relative_diff: float
    turns: int

    @property
    def suspicious(self) -> bool:
        return abs(self.relative_diff) > CONSISTENCY_WARN_FRACTION


def decode_consistency(traces: Iterable[TurnTrace]) -> DecodeConsistency | None:
    """Pooled rates over turns with ≥ 2 tokens and engine counters; None if there are none.

    `relative_diff` = (timestamps − engine) / engine: negative when our loop is slower
    than the engine's own decode timer says.
    """
    ours_tokens = ours_ns = 0
    engine_tokens = 0
    engine_ms = 0.0
    turns = 0
    for trace in traces:
        if trace.engine is None or trace.generated_tokens < 2 or trace.engine.decode_ms <= 0:
            continue
        turns += 1
        ours_tokens += trace.generated_tokens - 1
        ours_ns += trace.token_ns[-1] - trace.token_ns[0]
        engine_tokens += trace.engine.decode_tokens
        engine_ms += trace.engine.decode_ms
    if turns == 0 or ours_ns <= 0 or engine_ms <= 0:
        return None
    ours = ours_tokens / (ours_ns / 1e9)
    engine = engine_tokens / (engine_ms / 1e3)
    return DecodeConsistency(ours, engine, (ours - engine) / engine, turns)
