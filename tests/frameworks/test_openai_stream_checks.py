"""`TurnStream`'s checks of the server's counts, on hand-made events (no server)."""

from __future__ import annotations

from typing import Any

from melt.frameworks.openai.client import SseEvent
from melt.frameworks.openai.stream import PromptCounts, TurnStream


def _fold(events: list[dict[str, Any]], budget: int = 8) -> TurnStream:
    stream = TurnStream(budget=budget)
    for i, data in enumerate(events):
        stream.feed(SseEvent(1000 * (i + 1), data))
    return stream


def _token(text: str, n: int, ms: float) -> dict[str, Any]:
    return {
        "choices": [{"delta": {"content": text}}],
        "timings": {"predicted_n": n, "predicted_ms": ms},
    }


def test_a_running_count_that_falls_is_refused_and_events_are_counted() -> None:
    stream = _fold([_token("a", 1, 0.0), _token("b", 2, 1.0), _token("c", 1, 2.0)])
    assert stream.finish() == [1000, 2000, 3000]  # one per event with text
    assert "timings.predicted_n" in stream.check.refused
    timers = stream.timers()
    assert timers is not None and timers.decode_tokens is None and timers.decode_ms is None
    assert "timings.predicted_n" in timers.raw["refused"]


def test_a_believable_running_count_stamps_every_token_it_counts() -> None:
    stream = _fold([_token("a", 1, 0.0), _token("", 3, 2.0)])
    assert stream.finish() == [1000, 2000, 2000]
    assert not stream.check.refused
    timers = stream.timers()
    assert timers is not None and timers.decode_tokens == 2 and timers.decode_ms == 2.0


def test_more_cached_tokens_than_the_prompt_leaves_the_split_unknown() -> None:
    usage = {
        "prompt_tokens": 10,
        "completion_tokens": 1,
        "prompt_tokens_details": {"cached_tokens": 50},
    }
    stream = _fold([{"choices": [{"delta": {"content": "x"}}]}, {"choices": [], "usage": usage}])
    assert stream.prompt_counts() == PromptCounts(10, None, None)
    assert "usage.prompt_tokens_details.cached_tokens" in stream.check.refused
