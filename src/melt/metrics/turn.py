"""Per-turn metrics from a `TurnTrace` (definitions documented in the README).

* TTFT = first token time − submit time.
* Prefill tok/s = prompt tokens evaluated / prefill time, where prefill time runs from the
  prompt handed to the engine (or submit, when the framework does not say) to prefill done
  (or the first token, when the framework does not say); unknown (None) when the framework
  cannot say how many prompt tokens it evaluated.
* Decode tok/s = (generated − 1) / (last token time − first token time).
* End-to-end latency = end time − submit time.
"""

from __future__ import annotations

from dataclasses import dataclass

from melt.traces import TurnTrace

NS_PER_S = 1e9


@dataclass(frozen=True, slots=True)
class TurnMetrics:
    ttft_s: float | None
    prefill_s: float | None
    prefill_tok_per_s: float | None
    decode_s: float | None
    decode_tok_per_s: float | None
    e2e_s: float
    cpu_time_s: float | None


def prefill_seconds(trace: TurnTrace) -> float | None:
    start = trace.prefill_start_ns if trace.prefill_start_ns is not None else trace.submit_ns
    done = trace.prefill_done_ns
    if done is None:
        done = trace.token_ns[0] if trace.token_ns else None
    if done is None or done <= start:
        return None
    return (done - start) / NS_PER_S


def decode_seconds(trace: TurnTrace) -> float | None:
    if trace.generated_tokens < 2:
        return None
    return (trace.token_ns[-1] - trace.token_ns[0]) / NS_PER_S


def turn_metrics(trace: TurnTrace) -> TurnMetrics:
    ttft = (trace.token_ns[0] - trace.submit_ns) / NS_PER_S if trace.token_ns else None
    prefill = prefill_seconds(trace)
    decode = decode_seconds(trace)
    prefill_rate = (
        trace.prompt_tokens_evaluated / prefill
        if prefill and trace.prompt_tokens_evaluated
        else None
    )
    decode_rate = (trace.generated_tokens - 1) / decode if decode else None
    return TurnMetrics(
        ttft_s=ttft,
        prefill_s=prefill,
        prefill_tok_per_s=prefill_rate,
        decode_s=decode,
        decode_tok_per_s=decode_rate,
        e2e_s=(trace.end_ns - trace.submit_ns) / NS_PER_S,
        cpu_time_s=trace.cpu_time_ns / NS_PER_S if trace.cpu_time_ns is not None else None,
    )
