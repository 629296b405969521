"""The shape of one streamed chat-completions event, checked once.

A server is another program: whatever it sends is input. Each `data:` event is read into a
`ChatEvent` here, and every field melt uses is checked for its type on the way in, so a
malformed event ends the turn with one line saying what the server sent ("`choices` is a
string, not a list"), never a Python exception name from deep in the fold. Fields melt does
not use are not looked at; a field that is absent or null is None.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class EventError(ValueError):
    """An event whose shape is not the chat-completions stream's (the message says what)."""


def _kind(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    names.update({list: "a list", dict: "an object", type(None): "null"})
    return names.get(type(value), type(value).__name__)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def _object(value: Any, where: str) -> Mapping[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise EventError(f"{where} is {_kind(value)} ({_show(value)}), not an object")
    return value


def _string(value: Any, where: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise EventError(f"{where} is {_kind(value)} ({_show(value)}), not a string")


def _integer(value: Any, where: str) -> int | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise EventError(f"{where} is {_kind(value)} ({_show(value)}), not an integer")


def _number(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool) and value == value:
        return float(value)
    raise EventError(f"{where} is {_kind(value)} ({_show(value)}), not a number")


@dataclass(frozen=True, slots=True)
class Timings:
    """llama-server's per-request `timings` (server clock), as far as the event has them."""

    predicted_n: int | None
    predicted_ms: float | None
    prompt_n: int | None
    prompt_ms: float | None
    cache_n: int | None
    raw: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Usage:
    """OpenAI's `usage` counts (`stream_options.include_usage`), as far as they are given."""

    prompt_tokens: int | None
    completion_tokens: int | None
    cached_tokens: int | None
    raw: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ChatEvent:
    """What melt reads from one event: the text pieces of its choices, a finish reason, and
    the server's counts when the event carries them."""

    pieces: tuple[str, ...]
    finish_reason: str | None
    usage: Usage | None
    timings: Timings | None


def _timings(data: Mapping[str, Any] | None) -> Timings | None:
    if data is None:
        return None
    return Timings(
        predicted_n=_integer(data.get("predicted_n"), "timings.predicted_n"),
        predicted_ms=_number(data.get("predicted_ms"), "timings.predicted_ms"),
        prompt_n=_integer(data.get("prompt_n"), "timings.prompt_n"),
        prompt_ms=_number(data.get("prompt_ms"), "timings.prompt_ms"),
        cache_n=_integer(data.get("cache_n"), "timings.cache_n"),
        raw=data,
    )


def _usage(data: Mapping[str, Any] | None) -> Usage | None:
    if data is None:
        return None
    details = _object(data.get("prompt_tokens_details"), "usage.prompt_tokens_details") or {}
    return Usage(
        prompt_tokens=_integer(data.get("prompt_tokens"), "usage.prompt_tokens"),
        completion_tokens=_integer(data.get("completion_tokens"), "usage.completion_tokens"),
        cached_tokens=_integer(
            details.get("cached_tokens"), "usage.prompt_tokens_details.cached_tokens"
        ),
        raw=data,
    )


def parse_event(data: Mapping[str, Any]) -> ChatEvent:
    """The fields melt uses of one decoded `data:` payload; `EventError` names the first
    field that has the wrong shape."""
    choices = data.get("choices")
    if choices is None:
        choices = []
    if not isinstance(choices, list):
        raise EventError(f"choices is {_kind(choices)} ({_show(choices)}), not a list")
    pieces: list[str] = []
    finish: str | None = None
    for i, choice in enumerate(choices):
        where = f"choices[{i}]"
        entry = _object(choice, where) or {}
        delta = _object(entry.get("delta"), f"{where}.delta") or {}
        piece = _string(delta.get("content"), f"{where}.delta.content")
        if piece:
            pieces.append(piece)
        finish = _string(entry.get("finish_reason"), f"{where}.finish_reason") or finish
    return ChatEvent(
        pieces=tuple(pieces),
        finish_reason=finish,
        usage=_usage(_object(data.get("usage"), "usage")),
        timings=_timings(_object(data.get("timings"), "timings")),
    )
