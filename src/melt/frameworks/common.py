"""What every in-process engine measures the same way: the replay of a conversation, the KV
prefix it can keep between turns, the per-token loop's stamps and stop reason, the turn's
trace, and the process's resident memory.

An engine supplies only what is its own (how it tokenizes, prefills, samples one token and
runs the model on it); the counting and the clock reads are here, once, so every in-process
framework's trace means the same thing. Standard library and `melt.traces` only: a device's
runner imports this.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from melt.frameworks.chat_template import ChatTemplate
from melt.frameworks.history import fit_history
from melt.traces import STOP_CONTEXT, STOP_EOG, STOP_LENGTH, EngineTimers, TurnTrace

if TYPE_CHECKING:  # settings arrive as plain attributes on a device's runner
    from melt.config import RunSettings
    from melt.workloads import Conversation

Message = dict[str, str]
# One turn of an engine: (history so far, user text, turn index) → (its trace, the reply).
TurnFn = Callable[[list[Message], str, int], tuple[TurnTrace, str]]


def common_prefix_length(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def reusable_prefix(cached: Sequence[int], tokens: Sequence[int]) -> int:
    """How many of `tokens` can keep their KV entries from `cached`: the common prefix, less
    the last prompt token, which must be evaluated to get logits."""
    return min(common_prefix_length(cached, tokens), len(tokens) - 1)


def rss_bytes() -> int:
    """This process's resident set size in bytes (`VmRSS`, read as every transport reads
    it; no psutil, which a device's runner does not have)."""
    from melt.procfs import KIB, status_kib

    with open("/proc/self/status", encoding="utf-8") as status:
        kib = status_kib(status.read(), "VmRSS")
    if kib is None:
        raise OSError("/proc/self/status has no VmRSS line")
    return kib * KIB


def replay(turns: Sequence[str], turn: TurnFn) -> Iterator[TurnTrace]:
    """A conversation turn by turn, each turn seeing the history with the replies so far."""
    messages: list[Message] = []
    for turn_index, user_text in enumerate(turns):
        trace, reply = turn(messages, user_text, turn_index)
        messages.append({"role": "user", "content": user_text})
        messages.append({"role": "assistant", "content": reply})
        yield trace


@dataclass(frozen=True, slots=True)
class TurnStart:
    """The clocks read when a turn is submitted: wall anchor, monotonic submit, CPU time."""

    wall_anchor_ns: int
    submit_ns: int
    cpu_ns: int

    @classmethod
    def now(cls) -> TurnStart:
        return cls(time.time_ns(), time.monotonic_ns(), time.process_time_ns())


@dataclass(frozen=True, slots=True)
class Generation:
    """The tokens a turn sampled, when each was sampled, and why it stopped."""

    tokens: list[int]
    token_ns: list[int]
    stop: str
    end_ns: int

    @property
    def in_cache(self) -> list[int]:
        """The sampled tokens run through the model into the KV cache: all but the last,
        which the next turn's prefill starts with."""
        return self.tokens[:-1]

    @property
    def visible(self) -> list[int]:
        """The reply's tokens: the end-of-generation token is not part of it."""
        return self.tokens[:-1] if self.stop == STOP_EOG else self.tokens


def generate(
    sample: Callable[[], int],
    advance: Callable[[int], None],
    is_eog: Callable[[int], bool],
    max_new: int,
    room: int,
) -> Generation:
    """The decode loop: sample a token, stamp it, stop at an end-of-generation token, the
    reply budget (`max_new`) or the context's `room`; else run the model on it (`advance`)."""
    now = time.monotonic_ns
    stamps: list[int] = []
    generated: list[int] = []
    stop = STOP_LENGTH
    while True:
        token = sample()
        stamps.append(now())
        generated.append(token)
        if is_eog(token):
            stop = STOP_EOG
            break
        if len(generated) >= max_new:
            break
        if len(generated) >= room:
            stop = STOP_CONTEXT
            break
        advance(token)
    return Generation(generated, stamps, stop, now())


@dataclass(frozen=True, slots=True)
class Prefill:
    """A turn's prompt as the engine served it: all its tokens, how many kept their KV
    entries, how many were evaluated, and when the evaluation started and finished."""

    prompt_tokens: int
    reused: int
    evaluated: int
    start_ns: int
    done_ns: int


def turn_trace(
    start: TurnStart,
    prefill: Prefill,
    generation: Generation,
    *,
    conversation_index: int,
    turn_index: int,
    warmup: bool,
    reply: str,
    history_turns_dropped: int,
    engine: EngineTimers | None,
) -> TurnTrace:
    """The trace of a turn an in-process engine served, its CPU time and RSS read now."""
    return TurnTrace(
        conversation_index=conversation_index,
        turn_index=turn_index,
        warmup=warmup,
        wall_anchor_ns=start.wall_anchor_ns,
        submit_ns=start.submit_ns,
        prefill_start_ns=prefill.start_ns,
        prefill_done_ns=prefill.done_ns,
        token_ns=tuple(generation.token_ns),
        end_ns=generation.end_ns,
        prompt_tokens=prefill.prompt_tokens,
        prompt_tokens_evaluated=prefill.evaluated,
        prompt_tokens_reused=prefill.reused,
        stop_reason=generation.stop,
        output_text=reply,
        history_turns_dropped=history_turns_dropped,
        cpu_time_ns=time.process_time_ns() - start.cpu_ns,
        rss_bytes=rss_bytes(),
        engine=engine,
    )


class ChatEngine(ABC):
    """An in-process engine serving one conversation at a time, its KV cache kept between
    the turns of a conversation as a chat app would. A turn: fit the history into the
    context, keep the KV entries of the prompt's prefix already cached, evaluate the rest
    (timed), generate, and trace it; the framework supplies the steps below."""

    settings: RunSettings
    n_ctx: int  # the context budget in tokens
    _template: ChatTemplate
    _cached: list[int]  # tokens whose KV entries the engine holds

    @abstractmethod
    def tokenize(self, text: str) -> list[int]: ...

    @abstractmethod
    def reset(self) -> None:
        """Forget the KV cache (and `_cached`): conversations are independent."""

    @abstractmethod
    def _keep(self, reused: int) -> int:
        """Drop the KV entries past the first `reused` tokens; how many were kept."""

    @abstractmethod
    def _prefill(self, pending: list[int]) -> None:
        """Evaluate the prompt tokens not kept, returning when they are done."""

    @abstractmethod
    def _generate(self, room: int) -> Generation:
        """Sample the reply with `generate`, at most `room` tokens more fitting the context."""

    @abstractmethod
    def _detokenize(self, tokens: list[int]) -> str: ...

    def _timers(self) -> EngineTimers | None:
        """The framework's own timers of the turn just served; None when it has none."""
        return None

    def _prompt(self, messages: Sequence[dict[str, str]]) -> list[int]:
        return self.tokenize(self._template.render(messages, add_generation_prompt=True))

    def chat_prompt_tokens(self, user_turns: Sequence[str]) -> int:
        return len(self._prompt([{"role": "user", "content": t} for t in user_turns]))

    def converse(
        self, conversation: Conversation, conversation_index: int, *, warmup: bool = False
    ) -> Iterator[TurnTrace]:
        self.reset()

        def turn(messages: list[Message], user_text: str, turn_index: int) -> tuple[TurnTrace, str]:
            return self._turn(messages, user_text, conversation_index, turn_index, warmup)

        return replay(conversation.turns, turn)

    def _turn(
        self,
        messages: list[Message],
        user_text: str,
        conversation_index: int,
        turn_index: int,
        warmup: bool,
    ) -> tuple[TurnTrace, str]:
        start = TurnStart.now()
        fitted = fit_history(
            messages, user_text, self._prompt, self.n_ctx, self.settings.max_new_tokens
        )
        tokens = fitted.tokens
        reused = self._keep(reusable_prefix(self._cached, tokens))
        pending = tokens[reused:]
        prefill_start = time.monotonic_ns()
        self._prefill(pending)
        prefill = Prefill(len(tokens), reused, len(pending), prefill_start, time.monotonic_ns())
        generation = self._generate(self.n_ctx - len(tokens))
        timers = self._timers()
        self._cached = tokens + generation.in_cache
        reply = self._detokenize(generation.visible)
        trace = turn_trace(
            start,
            prefill,
            generation,
            conversation_index=conversation_index,
            turn_index=turn_index,
            warmup=warmup,
            reply=reply,
            history_turns_dropped=fitted.dropped_exchanges,
            engine=timers,
        )
        return trace, reply
