"""How a chat app keeps a conversation inside the context: drop the oldest exchanges.

Every engine replays a conversation with its full history each turn; when the templated
history plus the reply budget no longer fits the context, the oldest user/assistant pair is
dropped, as a chat app must. One definition, so every framework cuts history the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from melt.errors import MeltError

Message = dict[str, str]


@dataclass(frozen=True, slots=True)
class FittedPrompt:
    """The messages sent for a turn, their templated tokens, and how many exchanges were cut."""

    messages: list[Message]
    tokens: list[int]
    dropped_exchanges: int


def fit_history(
    history: Sequence[Message],
    user_text: str,
    tokens_of: Callable[[list[Message]], list[int]],
    n_ctx: int,
    max_new_tokens: int,
    ctx_flag: str = "--ctx",
) -> FittedPrompt:
    """The longest recent history whose templated prompt (by `tokens_of`) leaves room for
    `max_new_tokens` in a context of `n_ctx` tokens; `ctx_flag` names the setting to raise
    when even the turn alone does not fit."""
    budget = n_ctx - max_new_tokens
    kept = list(history)
    dropped = 0
    while True:
        messages = [*kept, {"role": "user", "content": user_text}]
        tokens = tokens_of(messages)
        if len(tokens) <= budget or not kept:
            break
        kept = kept[2:]
        dropped += 1
    if len(tokens) > budget:
        raise MeltError(
            f"{ctx_flag} {n_ctx} is too small for a turn of {len(tokens)} prompt tokens plus "
            f"{max_new_tokens} new tokens; raise {ctx_flag}"
        )
    return FittedPrompt(messages, tokens, dropped)
