"""One turn's server-sent events folded into arrival stamps, text and the server's figures.

What one generated token is, here: the trace holds one arrival time per generated token,
`time.monotonic_ns()` read on the controller right after the SSE `data:` line that made it
visible was read off the socket. When the server counts tokens in the stream (llama-server's
`timings.predicted_n`, sent with every event when `timings_per_token` is requested), the
tokens up to that count are stamped with that event's arrival, so a token the server sent
together with the next one (an incomplete UTF-8 sequence, the end-of-generation token, which
has no text) carries the arrival of the event that delivered it. When the server does not
count in the stream, one event with non-empty `delta.content` is one token (the OpenAI
streaming convention), and if its final `usage.completion_tokens` says more, the remaining
tokens are stamped with the last event's arrival (`raw["tokens_stamped_at_end"]`).

The server's own figures are kept beside the arrival times, never mixed with them:
llama-server's `timings` (`prompt_n`, `prompt_ms`, `predicted_n`, `predicted_ms`, `cache_n`,
on the server's clock) become the turn's `EngineTimers`, which `metrics.consistency` compares
with the arrival-time decode rate; other servers' `usage` counts are stored as reported.
Every count is checked against what was observed first (`counts.CountCheck`): one that
contradicts it is refused, and the stamps fall back to one per event with text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from melt.frameworks.openai.client import SseEvent
from melt.frameworks.openai.counts import CountCheck, budget_bound, events_bound
from melt.frameworks.openai.events import Timings, Usage, parse_event
from melt.traces import EngineTimers

SOURCE_LLAMA_SERVER = "llama-server timings (server clock, per request)"
SOURCE_USAGE = "server usage counts (OpenAI 'usage'; no timers)"
PREDICTED_N = "timings.predicted_n"
COMPLETION_TOKENS = "usage.completion_tokens"


@dataclass(frozen=True, slots=True)
class PromptCounts:
    """Prompt tokens as the server reports them: total, evaluated, reused (None: unknown)."""

    total: int | None = None
    evaluated: int | None = None
    reused: int | None = None


@dataclass(slots=True)
class TurnStream:
    """Folds a turn's events into arrival stamps, text and the server's figures. `budget`
    is the reply budget the request asked for (`max_tokens`), the bound on any count of
    generated tokens."""

    budget: int
    content_ns: list[int] = field(default_factory=list)
    counted_ns: list[int] = field(default_factory=list)
    server_token_ms: list[float] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    finish_reason: str | None = None
    timings: Timings | None = None
    usage: Usage | None = None
    events: int = 0
    last_arrival_ns: int | None = None
    check: CountCheck = field(default_factory=CountCheck)
    _stamps: list[int] | None = None
    _stamped_at_end: int = 0

    def feed(self, event: SseEvent) -> None:
        """Fold one event in; `events.EventError` when it is malformed."""
        parsed = parse_event(event.data)
        self.events += 1
        self.last_arrival_ns = event.arrival_ns
        if parsed.pieces:
            self.text.extend(parsed.pieces)
            self.content_ns.append(event.arrival_ns)
        if parsed.finish_reason:
            self.finish_reason = parsed.finish_reason
        if parsed.usage is not None:
            self.usage = parsed.usage
        timings = parsed.timings
        if timings is not None and timings.predicted_n is not None:
            self.timings = timings
            self._count(timings, event.arrival_ns)

    def _count(self, timings: Timings, arrival_ns: int) -> None:
        """Stamp the tokens the server's running count adds, while the count is believable."""
        so_far = len(self.counted_ns)
        running = (so_far, f"the server had already counted {so_far} (a running count)")
        if not self.check.within(
            PREDICTED_N, timings.predicted_n, low=running, high=budget_bound(self.budget)
        ):
            return
        added = int(timings.predicted_n or 0) - so_far
        self.counted_ns.extend([arrival_ns] * added)
        self.server_token_ms.extend([float(timings.predicted_ms or 0.0)] * added)

    @property
    def server_counted(self) -> bool:
        """Whether the server counted the tokens in the stream and the count held."""
        return self.timings is not None and PREDICTED_N not in self.check.refused

    def finish(self) -> list[int]:
        """The turn's token stamps, once every event is in (the server's count when it
        held, else one per event with text plus what a believable final `usage` adds)."""
        if self._stamps is not None:
            return self._stamps
        observed = len(self.content_ns)
        if self.server_counted:
            self.check.within(PREDICTED_N, len(self.counted_ns), low=events_bound(observed))
        if self.server_counted:
            self._stamps = list(self.counted_ns)
            return self._stamps
        self._stamps = list(self.content_ns)
        reported = None if self.usage is None else self.usage.completion_tokens
        if self.timings is None and self.check.within(
            COMPLETION_TOKENS,
            reported,
            low=events_bound(observed),
            high=budget_bound(self.budget),
        ):
            assert reported is not None and self.last_arrival_ns is not None
            self._stamped_at_end = reported - observed
            self._stamps.extend([self.last_arrival_ns] * self._stamped_at_end)
        return self._stamps

    def prompt_counts(self) -> PromptCounts:
        """(total, evaluated, reused) prompt tokens as the server reports them, each count
        checked; unknown (None) where the server does not say or said the impossible."""
        t, u, check = self.timings, self.usage, self.check
        if t is not None and t.prompt_n is not None and t.cache_n is not None:
            evaluated = check.count("timings.prompt_n", t.prompt_n)
            reused = check.count("timings.cache_n", t.cache_n)
            if evaluated is None or reused is None:
                return PromptCounts()
            return PromptCounts(evaluated + reused, evaluated, reused)
        if u is None:
            return PromptCounts()
        total = check.count("usage.prompt_tokens", u.prompt_tokens)
        if total is None:
            return PromptCounts()
        cached = check.count(
            "usage.prompt_tokens_details.cached_tokens",
            u.cached_tokens,
            high=(total, "more cached tokens than the prompt's usage.prompt_tokens"),
        )
        if cached is None:
            return PromptCounts(total)
        return PromptCounts(total, total - cached, cached)

    def timers(self) -> EngineTimers | None:
        """The server's own figures for the turn: llama-server's timings, else OpenAI's
        usage (counts only), else None; verbatim in `raw`, with `refused` naming any count
        that contradicted what was observed."""
        stamps = self.finish()
        prompt = self.prompt_counts()
        t = self.timings
        if t is not None:
            counted = self.server_counted
            prefill_ms = self.check.duration_ms("timings.prompt_ms", t.prompt_ms)
            decode_ms = self.check.duration_ms("timings.predicted_ms", t.predicted_ms)
            raw: dict[str, Any] = {**t.raw, "source": SOURCE_LLAMA_SERVER, **self._refused()}
            if counted and self.server_token_ms:
                raw["predicted_ms_per_token"] = self.server_token_ms
            return EngineTimers(
                prefill_ms=prefill_ms,
                prefill_tokens=prompt.evaluated,
                decode_ms=decode_ms if counted else None,
                # predicted_ms runs from the first sampled token to the last: n − 1 steps.
                decode_tokens=max(len(stamps) - 1, 0) if counted else None,
                raw=raw,
            )
        if self.usage is not None:
            return EngineTimers(
                prefill_ms=None,
                prefill_tokens=None,
                decode_ms=None,
                decode_tokens=None,
                raw={
                    **self.usage.raw,
                    "content_events": len(self.content_ns),
                    "tokens_stamped_at_end": self._stamped_at_end,
                    "source": SOURCE_USAGE,
                    **self._refused(),
                },
            )
        return None

    def _refused(self) -> dict[str, Any]:
        return {"refused": dict(self.check.refused)} if self.check.refused else {}
