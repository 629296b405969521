"""A model served by a running OpenAI-compatible server, replayed over streaming chat
completions.

melt replays each conversation as a chat app does: every turn POSTs the full message history
(the assistant's earlier replies included) to `/v1/chat/completions` with `stream: true`, and
reads the server-sent events as they arrive (`stream.TurnStream` folds them; its docstring
says what one token's time is). The request body and the tokenizer come from the server's
dialect (`dialect.py`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from melt.config import RunSettings
from melt.frameworks.common import replay
from melt.frameworks.history import Message, fit_history
from melt.frameworks.openai.client import HttpClient, ServerError
from melt.frameworks.openai.dialect import ServerInfo
from melt.frameworks.openai.events import EventError
from melt.frameworks.openai.stream import TurnStream
from melt.traces import STOP_CONTEXT, STOP_EOG, STOP_LENGTH, LoadTrace, TurnTrace
from melt.workloads import Conversation

log = logging.getLogger(__name__)


def _stop_reason(finish: str | None, generated: int, max_new: int) -> str:
    if finish == "stop":
        return STOP_EOG
    if finish == "length":
        return STOP_LENGTH if generated >= max_new else STOP_CONTEXT
    return finish or "unknown"


def server_system_info(info: ServerInfo) -> str:
    """The server's own description of its build and settings, as JSON (stored per run)."""
    doc: dict[str, Any] = {"server": info.describe(), "models": info.model_ids()}
    if info.props is not None:
        keep = ("build_info", "model_path", "total_slots", "default_generation_settings")
        doc.update({k: info.props[k] for k in keep if k in info.props})
    return json.dumps(doc, sort_keys=True)


class OpenAIHttpEngine:
    """A model served by a running server, replayed over streaming chat completions.

    `load` describes the server's model as far as it says; `on_close` lets whoever started
    the server (the llama-server framework) stop it when the engine closes. `submit_ns` is
    read just before the request is sent, so TTFT includes the server's templating,
    tokenizing and the transport.
    """

    ctx_flag = "the server's context (its -c)"  # what a user raises when a turn cannot fit

    def __init__(
        self,
        client: HttpClient,
        info: ServerInfo,
        model: str,
        settings: RunSettings,
        load: LoadTrace | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.client = client
        self.info = info
        self.dialect = info.dialect
        self.model = model
        self.settings = settings
        self.n_ctx = info.n_ctx or settings.ctx
        meta = info.model_meta(model)
        self.load = load or LoadTrace(
            load_ns=None,
            model_bytes=_count_or_none(meta.get("size")),
            model_params=_count_or_none(meta.get("n_params")),
            rss_before_bytes=None,
            rss_after_bytes=None,
            context_tokens=info.n_ctx,
            system_info=server_system_info(info),
        )
        self._on_close = on_close
        if info.n_ctx is not None and info.n_ctx != settings.ctx:
            log.warning(
                "the server's context is %d tokens, not --ctx %d: the server's own is used",
                info.n_ctx,
                settings.ctx,
            )

    def _tokens_of(self, messages: list[Message]) -> list[int]:
        tokens = self.dialect.chat_tokens(self.client, messages)
        assert tokens is not None  # only called when the dialect has a tokenizer
        return tokens

    def chat_prompt_tokens(self, user_turns: Sequence[str]) -> int | None:
        messages = [{"role": "user", "content": t} for t in user_turns]
        tokens = self.dialect.chat_tokens(self.client, messages)
        return None if tokens is None else len(tokens)

    def converse(
        self, conversation: Conversation, conversation_index: int, *, warmup: bool = False
    ) -> Iterator[TurnTrace]:

        def turn(history: list[Message], user_text: str, turn_index: int) -> tuple[TurnTrace, str]:
            try:
                trace = self._turn(history, user_text, conversation_index, turn_index, warmup)
            except ServerError as exc:
                raise ServerError(
                    f"turn {turn_index} of conversation '{conversation.id}': {exc}"
                ) from exc
            return trace, trace.output_text

        return replay(conversation.turns, turn)

    def _turn(
        self,
        history: list[Message],
        user_text: str,
        conversation_index: int,
        turn_index: int,
        warmup: bool,
    ) -> TurnTrace:
        """One streamed reply to the history (cut, as a chat app must, when the server's
        tokenizer says it no longer fits) plus `user_text`."""
        dropped = 0
        messages: list[Message] = [*history, {"role": "user", "content": user_text}]
        if self.dialect.has_tokenizer:
            fitted = fit_history(
                history,
                user_text,
                self._tokens_of,
                self.n_ctx,
                self.settings.max_new_tokens,
                ctx_flag=self.ctx_flag,
            )
            messages, dropped = fitted.messages, fitted.dropped_exchanges
        body = self.dialect.payload(self.model, messages, self.settings)
        path = f"{self.client.endpoint.api}/chat/completions"
        stream = TurnStream(budget=self.settings.max_new_tokens)
        wall_anchor = time.time_ns()
        submit = time.monotonic_ns()
        events = self.client.stream_events(path, body)
        try:
            for event in events:
                stream.feed(event)
        except EventError as exc:
            events.close()
            raise ServerError(
                f"{self.client.where(path)} sent a malformed event ({exc}); "
                "is it an OpenAI-compatible chat-completions server?"
            ) from None
        end = time.monotonic_ns()
        stamps = stream.finish()
        prompt = stream.prompt_counts()
        return TurnTrace(
            conversation_index=conversation_index,
            turn_index=turn_index,
            warmup=warmup,
            wall_anchor_ns=wall_anchor,
            submit_ns=submit,
            prefill_start_ns=None,
            prefill_done_ns=None,
            token_ns=tuple(stamps),
            end_ns=end,
            prompt_tokens=prompt.total,
            prompt_tokens_evaluated=prompt.evaluated,
            prompt_tokens_reused=prompt.reused,
            stop_reason=_stop_reason(
                stream.finish_reason, len(stamps), self.settings.max_new_tokens
            ),
            output_text="".join(stream.text),
            history_turns_dropped=dropped,
            engine=stream.timers(),
        )

    def close(self) -> None:
        self.client.close()
        if self._on_close is not None:
            on_close, self._on_close = self._on_close, None
            on_close()


def _count_or_none(value: Any) -> int | None:
    """A size or parameter count from the server's model listing, when it is one."""
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return value if ok else None
