"""Cross-check of our decode rate against the framework's own timers.

llama.cpp counts the first sampled token in its prompt phase and times one `llama_decode`
per later token ("eval"), so over a turn that generated n tokens its eval phase holds the
n − 1 decode steps that our (n − 1) / (last − first) also spans. Each of our steps also
contains one sampling call, which llama.cpp times separately (its sampler timer counts n
samples, the first in the prompt phase). The engine's step time is therefore
eval time / eval count + sample time / sample count, and the comparison is like for like:
what remains is time neither of llama.cpp's timers covers (our loop, llama.cpp's untimed
graph preparation).

A server (llama-server) reports the same two figures in its `timings`: `predicted_ms` runs
from its first sampled token to its last, so it spans the n − 1 decode steps with their
sampling, and the engine stores it as decode time over n − 1 decode tokens with no separate
sampler timer. Our timestamps are then chunk arrival times on the controller, and what
remains is transport (HTTP, SSE framing, the network) and the server's untimed work.
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
    engine_decode_only_tok_per_s: float
    relative_diff: float
    turns: int

    def as_dict(self) -> dict[str, float | int]:
        return {
            "timestamps_tok_per_s": self.timestamps_tok_per_s,
            "engine_tok_per_s": self.engine_tok_per_s,
            "engine_decode_only_tok_per_s": self.engine_decode_only_tok_per_s,
            "relative_diff": self.relative_diff,
            "turns": self.turns,
        }

    @property
    def suspicious(self) -> bool:
        return abs(self.relative_diff) > CONSISTENCY_WARN_FRACTION


def decode_consistency(traces: Iterable[TurnTrace]) -> DecodeConsistency | None:
    """Pooled rates over turns with ≥ 2 tokens and engine timers; None if there are none.

    `relative_diff` = (timestamps − engine) / engine, with the engine's step time including
    its sampling time: negative when our clock saw slower steps than llama.cpp timed.
    """
    steps = 0
    ours_ns = 0
    eval_ms = 0.0
    sample_ms = 0.0
    turns = 0
    for trace in traces:
        engine = trace.engine
        if (
            engine is None
            or engine.decode_ms is None
            or not engine.decode_tokens
            or trace.generated_tokens < 2
        ):
            continue
        turns += 1
        steps += trace.generated_tokens - 1
        ours_ns += trace.token_ns[-1] - trace.token_ns[0]
        eval_ms += engine.decode_ms / engine.decode_tokens * (trace.generated_tokens - 1)
        if engine.sample_tokens:
            sample_ms += engine.sample_ms / engine.sample_tokens * (trace.generated_tokens - 1)
    if turns == 0 or ours_ns <= 0 or eval_ms <= 0:
        return None
    ours = steps / (ours_ns / 1e9)
    engine_rate = steps / ((eval_ms + sample_ms) / 1e3)
    return DecodeConsistency(
        timestamps_tok_per_s=ours,
        engine_tok_per_s=engine_rate,
        engine_decode_only_tok_per_s=steps / (eval_ms / 1e3),
        relative_diff=(ours - engine_rate) / engine_rate,
        turns=turns,
    )
