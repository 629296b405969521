"""What a framework observed while serving one chat turn (DESIGN.md: Trace).

Frameworks fill these in and nothing else: they report what they saw, in monotonic
nanoseconds on the device's clock, and never compute metrics. `melt.metrics` turns
traces into numbers with one definition for every framework.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from melt.compute import ComputeUse

# Why a turn ended, the same words for every framework.
STOP_EOG = "eog"  # the model produced an end-of-generation token
STOP_LENGTH = "max_new_tokens"  # the reply budget was used up
STOP_CONTEXT = "context_full"  # the context had no room for another token


@dataclass(frozen=True, slots=True)
class EngineTimers:
    """The framework's own timers for one turn, as it reports them.

    For llama.cpp these are its perf counters: `prefill_*` is its "prompt eval" phase
    (which also produces the first sampled token), `decode_*` its "eval" phase (one
    `llama_decode` per token after the first) and `sample_*` its sampler chain's timer (one
    sample per generated token). A server reports them over HTTP (llama-server's `timings`:
    `decode_*` spans its decode steps after the first token, sampling included). A figure the
    framework does not report is None. `raw` keeps every figure verbatim, with `source`
    naming who measured them.
    """

    prefill_ms: float | None
    prefill_tokens: int | None
    decode_ms: float | None
    decode_tokens: int | None
    sample_ms: float = 0.0
    sample_tokens: int = 0
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TurnTrace:
    """One user turn served by a framework.

    Times are `time.monotonic_ns()` values; `wall_anchor_ns` is `time.time_ns()` read at
    the same moment as `submit_ns`, so the trace can be placed on a calendar.
    `prompt_tokens_reused` counts tokens of the templated prompt whose KV entries were kept
    from the previous turn; `prompt_tokens_evaluated` counts those the engine computed. A
    count the framework cannot observe (a remote server that does not say) is None, never a
    guess.
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
    prompt_tokens: int | None
    prompt_tokens_evaluated: int | None
    prompt_tokens_reused: int | None
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
    """What loading a model cost: time, memory, and what the engine reported about it.

    A figure the framework cannot observe is None: an already running server was loaded
    before melt saw it, and a server's memory is another process's (read from its
    `/proc/<pid>` by the session, not here). `engine_settings` are the settings the engine
    applied as it applied them (a server's command-line flags), stored with the run.
    `compute` is where the model ran, from the engine's own report (None: the framework
    cannot tell, e.g. a server melt did not start).
    """

    load_ns: int | None
    model_bytes: int | None
    model_params: int | None
    rss_before_bytes: int | None
    rss_after_bytes: int | None
    context_tokens: int | None
    system_info: str = ""
    engine_settings: dict[str, Any] = field(default_factory=dict)
    compute: ComputeUse | None = None

    @property
    def load_time_s(self) -> float | None:
        return None if self.load_ns is None else self.load_ns / 1e9

    @property
    def model_rss_bytes(self) -> int | None:
        """RSS the load added to the process that holds the model."""
        if self.rss_before_bytes is None or self.rss_after_bytes is None:
            return None
        return self.rss_after_bytes - self.rss_before_bytes
