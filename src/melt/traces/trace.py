"""What a framework observed while serving one chat turn (DESIGN.md: Trace).

Frameworks fill these in and nothing else: they report what they saw, in monotonic
nanoseconds on the device's clock, and never compute metrics. `melt.metrics` turns
traces into numbers with one definition for every framework.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class EngineTimers:
    """The framework's own timers for one turn, as it reports them.

    For llama.cpp these are its perf counters: `prefill_*` is its "prompt eval" phase
    (which also produces the first sampled token), `decode_*` its "eval" phase (one
    `llama_decode` per token after the first) and `sample_*` its sampler chain's timer (one
    sample per generated token). `raw` keeps every counter verbatim.
    """

    prefill_ms: float
    prefill_tokens: int
    decode_ms: float
    decode_tokens: int
    sample_ms: float = 0.0
    sample_tokens: int = 0
    raw: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TurnTrace:
    """One user turn served by a framework.

    Times are `time.monotonic_ns()` values; `wall_anchor_ns` is `time.time_ns()` read at
    the same moment as `submit_ns`, so the trace can be placed on a calendar.
    `prompt_tokens_reused` counts tokens of the templated prompt whose KV entries were kept
    from the previous turn; `prompt_tokens_evaluated` counts those the engine computed.
    """

    conversation_index: int
    turn_index: int
    warmup: bool
    wall_anchor_ns: int
    submit_ns: int
    prefill_start_ns: int | None
    prefill_done_ns: int | None
    token_ns: tuple[int, ...]
    end_ns: int
    prompt_tokens: int
    prompt_tokens_evaluated: int
    prompt_tokens_reused: int
    stop_reason: str
    output_text: str = ""
    history_turns_dropped: int = 0
    cpu_time_ns: int | None = None
    rss_bytes: int | None = None
    engine: EngineTimers | None = None

    @property
    def generated_tokens(self) -> int:
        return len(self.token_ns)


@dataclass(frozen=True, slots=True)
class LoadTrace:
    """What loading a model cost: time, memory, and what the engine reported about it."""

    load_ns: int
    model_bytes: int
    model_params: int
    rss_before_bytes: int
    rss_after_bytes: int
    context_tokens: int
    system_info: str = ""
