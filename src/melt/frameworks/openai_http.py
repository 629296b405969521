"""Any running OpenAI-compatible server, driven over its streaming chat-completions API.

melt replays each conversation as a chat app does: every turn POSTs the full message history
(the assistant's earlier replies included) to `/v1/chat/completions` with `stream: true`, and
reads the server-sent events as they arrive.

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
Prompt tokens evaluated vs reused come from `cache_n` (or `usage.prompt_tokens_details.
cached_tokens`); when the server does not say, they are None.

The API key is read from the environment variable `--api-key-env` names, at start-up, and
lives only in the client's request headers: it is never stored or logged.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from melt.config import RunSettings, SamplingSettings
from melt.config.settings import FrameworkSettings
from melt.errors import MeltError
from melt.frameworks.base import FrameworkDefaults, FrameworkOptions
from melt.frameworks.history import Message, fit_history
from melt.frameworks.openai_client import Endpoint, HttpClient, ServerError, SseEvent, error_text
from melt.frameworks.registry import Declaration, Kind, Option
from melt.models import Artifact
from melt.traces import STOP_CONTEXT, STOP_EOG, STOP_LENGTH, EngineTimers, LoadTrace, TurnTrace
from melt.workloads import Conversation

log = logging.getLogger(__name__)

KIND_LLAMA_SERVER = "llama-server"
KIND_OPENAI = "openai-compatible"
SOURCE_LLAMA_SERVER = "llama-server timings (server clock, per request)"
SOURCE_USAGE = "server usage counts (OpenAI 'usage'; no timers)"


def api_key_headers(env_var: str | None) -> dict[str, str]:
    """The `Authorization` header for the key in `env_var` (none without a variable)."""
    if env_var is None:
        return {}
    key = os.environ.get(env_var)
    if not key:
        raise MeltError(
            f"--api-key-env {env_var}: the environment variable {env_var} is not set "
            f"(export {env_var}=<the server's API key>, or drop --api-key-env)"
        )
    return {"Authorization": f"Bearer {key}"}


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """What the server says about itself: its kind, llama-server's `/props` when it has
    them, the model ids of `/v1/models`."""

    kind: str
    props: dict[str, Any] | None
    models: list[dict[str, Any]]

    @property
    def has_tokenizer(self) -> bool:
        """llama-server exposes `/apply-template` and `/tokenize`; the OpenAI API has none."""
        return self.kind == KIND_LLAMA_SERVER

    @property
    def n_ctx(self) -> int | None:
        if self.props is None:
            return None
        value = self.props.get("default_generation_settings", {}).get("n_ctx")
        return int(value) if value else None

    def model_meta(self, model: str) -> dict[str, Any]:
        for entry in self.models:
            if entry.get("id") == model:
                return dict(entry.get("meta") or {})
        return {}

    def describe(self) -> str:
        if self.props is not None:
            return f"{self.kind} {self.props.get('build_info', '(build unknown)')}"
        owners = sorted({str(m.get("owned_by")) for m in self.models if m.get("owned_by")})
        return f"{self.kind} (models owned by: {', '.join(owners) or 'unknown'})"


def probe_server(client: HttpClient) -> ServerInfo:
    """Which server this is and which models it serves; raises `ServerError` when it does
    not answer at all."""
    root = client.endpoint.root
    status, props = client.request("GET", f"{root}/props")
    is_llama = status == 200 and isinstance(props, dict) and "default_generation_settings" in props
    status, listing = client.request("GET", f"{client.endpoint.api}/models")
    if status in (401, 403):
        raise ServerError(
            f"HTTP {status}: {error_text(listing)} (the server wants an API key: "
            "check the variable --api-key-env names)"
        )
    models = listing.get("data", []) if status == 200 and isinstance(listing, dict) else []
    return ServerInfo(
        kind=KIND_LLAMA_SERVER if is_llama else KIND_OPENAI,
        props=props if is_llama else None,
        models=[m for m in models if isinstance(m, dict)],
    )


def choose_model(info: ServerInfo, wanted: str | None, url: str) -> str:
    ids = [str(m["id"]) for m in info.models if "id" in m]
    if wanted is not None:
        if ids and wanted not in ids:
            log.warning("server at %s does not list model '%s' (it lists: %s)", url, wanted, ids)
        return wanted
    if len(ids) == 1:
        return ids[0]
    listed = f"it serves: {', '.join(ids)}" if ids else "it lists none at /v1/models"
    raise MeltError(f"--endpoint {url}: name the model with --api-model ({listed})")


def request_body(
    kind: str, model: str, messages: Sequence[Message], settings: RunSettings
) -> dict[str, Any]:
    """The chat-completions request: the OpenAI fields, and llama-server's own sampling
    fields and `timings_per_token` when the server is llama-server."""
    s: SamplingSettings = settings.sampling
    body: dict[str, Any] = {
        "model": model,
        "messages": list(messages),
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": settings.max_new_tokens,
        "temperature": s.temperature,
        "top_p": s.top_p,
        "seed": s.seed,
    }
    if kind == KIND_LLAMA_SERVER:
        body.update(
            top_k=s.top_k,
            min_p=s.min_p,
            repeat_penalty=s.repeat_penalty,
            repeat_last_n=s.repeat_last_n,
            cache_prompt=True,
            timings_per_token=True,
        )
    return body


@dataclass(slots=True)
class TurnStream:
    """Folds a turn's events into arrival stamps, text and the server's figures."""

    stamps: list[int] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    finish_reason: str | None = None
    timings: dict[str, Any] | None = None
    usage: dict[str, Any] | None = None
    server_counts: bool = False
    events: int = 0
    content_events: int = 0
    server_token_ms: list[float] = field(default_factory=list)
    last_arrival_ns: int | None = None

    def feed(self, event: SseEvent) -> None:
        data = event.data
        self.events += 1
        self.last_arrival_ns = event.arrival_ns
        content = False
        for choice in data.get("choices") or []:
            delta = choice.get("delta") or {}
            piece = delta.get("content")
            if piece:
                self.text.append(piece)
                content = True
            if choice.get("finish_reason"):
                self.finish_reason = str(choice["finish_reason"])
        self.content_events += content
        if isinstance(data.get("usage"), dict):
            self.usage = data["usage"]
        timings = data.get("timings")
        if isinstance(timings, dict) and "predicted_n" in timings:
            self.timings = timings
            self.server_counts = True
            while len(self.stamps) < int(timings["predicted_n"]):
                self.stamps.append(event.arrival_ns)
                self.server_token_ms.append(float(timings.get("predicted_ms", 0.0)))
        elif content and not self.server_counts:
            self.stamps.append(event.arrival_ns)

    def finish(self) -> int:
        """Stamp tokens the final usage count adds; returns how many it added."""
        if self.server_counts or self.usage is None or self.last_arrival_ns is None:
            return 0
        reported = self.usage.get("completion_tokens")
        if not isinstance(reported, int):
            return 0
        if reported < len(self.stamps):
            log.warning(
                "server reported %d completion tokens but sent %d content events; "
                "keeping one token per event",
                reported,
                len(self.stamps),
            )
            return 0
        added = reported - len(self.stamps)
        self.stamps.extend([self.last_arrival_ns] * added)
        return added


def server_prompt_counts(stream: TurnStream) -> tuple[int | None, int | None, int | None]:
    """(total, evaluated, reused) prompt tokens as the server reports them, else None."""
    t = stream.timings
    if t is not None and "prompt_n" in t and "cache_n" in t:
        evaluated, reused = int(t["prompt_n"]), int(t["cache_n"])
        return evaluated + reused, evaluated, reused
    u = stream.usage
    if u is None or not isinstance(u.get("prompt_tokens"), int):
        return None, None, None
    total = int(u["prompt_tokens"])
    cached = (u.get("prompt_tokens_details") or {}).get("cached_tokens")
    if isinstance(cached, int):
        return total, total - cached, cached
    return total, None, None


def server_timers(stream: TurnStream, stamped_at_end: int) -> EngineTimers | None:
    t = stream.timings
    if t is not None:
        predicted_n = int(t.get("predicted_n", 0))
        raw: dict[str, Any] = {**t, "source": SOURCE_LLAMA_SERVER}
        if stream.server_token_ms:
            raw["predicted_ms_per_token"] = stream.server_token_ms
        return EngineTimers(
            prefill_ms=float(t["prompt_ms"]) if "prompt_ms" in t else None,
            prefill_tokens=int(t["prompt_n"]) if "prompt_n" in t else None,
            decode_ms=float(t["predicted_ms"]) if "predicted_ms" in t else None,
            # predicted_ms runs from the first sampled token to the last: n − 1 steps.
            decode_tokens=max(predicted_n - 1, 0),
            raw=raw,
        )
    if stream.usage is not None:
        return EngineTimers(
            prefill_ms=None,
            prefill_tokens=None,
            decode_ms=None,
            decode_tokens=None,
            raw={
                **stream.usage,
                "content_events": stream.content_events,
                "tokens_stamped_at_end": stamped_at_end,
                "source": SOURCE_USAGE,
            },
        )
    return None


def _stop_reason(finish: str | None, generated: int, max_new: int) -> str:
    if finish == "stop":
        return STOP_EOG
    if finish == "length":
        return STOP_LENGTH if generated >= max_new else STOP_CONTEXT
    return finish or "unknown"


class OpenAIHttpEngine:
    """A model served by a running server, replayed over streaming chat completions.

    `load` describes the server's model as far as it says; `on_close` lets whoever started
    the server (the llama-server runner) stop it when the engine closes. `submit_ns` is read
    just before the request is sent, so TTFT includes the server's templating, tokenizing
    and the transport.
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
        self.model = model
        self.settings = settings
        self.n_ctx = info.n_ctx or settings.ctx
        meta = info.model_meta(model)
        self.load = load or LoadTrace(
            load_ns=None,
            model_bytes=meta.get("size"),
            model_params=meta.get("n_params"),
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
        root = self.client.endpoint.root
        prompt = self.client.post_json(f"{root}/apply-template", {"messages": messages})["prompt"]
        return self._server_tokenize(prompt)

    def _server_tokenize(self, text: str) -> list[int]:
        body = {"content": text, "add_special": True, "parse_special": True}
        return list(self.client.post_json(f"{self.client.endpoint.root}/tokenize", body)["tokens"])

    def tokenize(self, text: str) -> list[int]:
        if not self.info.has_tokenizer:
            raise MeltError(
                f"the server at {self.client.endpoint.url} has no /tokenize endpoint "
                "(melt cannot count tokens through the OpenAI API)"
            )
        return self._server_tokenize(text)

    def chat_prompt_tokens(self, user_turns: Sequence[str]) -> int | None:
        if not self.info.has_tokenizer:
            return None
        return len(self._tokens_of([{"role": "user", "content": t} for t in user_turns]))

    def converse(
        self, conversation: Conversation, conversation_index: int, *, warmup: bool = False
    ) -> Iterator[TurnTrace]:
        messages: list[Message] = []
        for turn_index, user_text in enumerate(conversation.turns):
            try:
                trace = self._turn(messages, user_text, conversation_index, turn_index, warmup)
            except ServerError as exc:
                raise ServerError(
                    f"turn {turn_index} of conversation '{conversation.id}': {exc}"
                ) from exc
            messages.append({"role": "user", "content": user_text})
            messages.append({"role": "assistant", "content": trace.output_text})
            yield trace

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
        if self.info.has_tokenizer:
            fitted = fit_history(
                history,
                user_text,
                self._tokens_of,
                self.n_ctx,
                self.settings.max_new_tokens,
                ctx_flag=self.ctx_flag,
            )
            messages, dropped = fitted.messages, fitted.dropped_exchanges
        body = request_body(self.info.kind, self.model, messages, self.settings)
        path = f"{self.client.endpoint.api}/chat/completions"
        stream = TurnStream()
        wall_anchor = time.time_ns()
        submit = time.monotonic_ns()
        for event in self.client.stream_events(path, body):
            stream.feed(event)
        end = time.monotonic_ns()
        stamped_at_end = stream.finish()
        total, evaluated, reused = server_prompt_counts(stream)
        trace = TurnTrace(
            conversation_index=conversation_index,
            turn_index=turn_index,
            warmup=warmup,
            wall_anchor_ns=wall_anchor,
            submit_ns=submit,
            prefill_start_ns=None,
            prefill_done_ns=None,
            token_ns=tuple(stream.stamps),
            end_ns=end,
            prompt_tokens=total,
            prompt_tokens_evaluated=evaluated,
            prompt_tokens_reused=reused,
            stop_reason=_stop_reason(
                stream.finish_reason, len(stream.stamps), self.settings.max_new_tokens
            ),
            output_text="".join(stream.text),
            history_turns_dropped=dropped,
            engine=server_timers(stream, stamped_at_end),
        )
        return trace

    def close(self) -> None:
        self.client.close()
        if self._on_close is not None:
            on_close, self._on_close = self._on_close, None
            on_close()


def server_system_info(info: ServerInfo) -> str:
    """The server's own description of its build and settings, as JSON (stored per run)."""
    doc: dict[str, Any] = {"server": info.describe(), "models": [m.get("id") for m in info.models]}
    if info.props is not None:
        keep = ("build_info", "model_path", "total_slots", "default_generation_settings")
        doc.update({k: info.props[k] for k in keep if k in info.props})
    return json.dumps(doc, sort_keys=True)


def connect(
    endpoint: Endpoint,
    headers: dict[str, str],
    api_model: str | None,
) -> tuple[HttpClient, ServerInfo, str]:
    """A client for a server that answers, what it is, and the model to ask it for; an
    unreachable endpoint is a user error naming it."""
    client = HttpClient(endpoint, headers)
    try:
        info = probe_server(client)
    except ServerError as exc:
        client.close()
        raise MeltError(f"--endpoint {endpoint.url}: {exc}") from None
    return client, info, choose_model(info, api_model, endpoint.url)


class OpenAIHttpSettings(FrameworkSettings):
    """A server the user runs, reached over its OpenAI-compatible API (`--endpoint`,
    `--api-model`, `--api-key-env` are its options); melt sets none of its knobs."""

    framework: Literal["openai-http"] = "openai-http"


FRAMEWORK = Declaration(
    name="openai-http",
    summary="a server you already run",
    kind=Kind.EXTERNAL_SERVER,
    implementation="melt.frameworks.openai_http:OpenAIHttp",
    settings="melt.frameworks.openai_http:OpenAIHttpSettings",
    options=(
        Option("endpoint", "the server's base URL, e.g. http://127.0.0.1:8080/v1."),
        Option("api_model", "the model name to request (default: the server's only model)."),
        Option("api_key_env", "environment variable holding the API key (read, never stored)."),
    ),
)


class OpenAIHttp(FrameworkDefaults):
    """A server the user already runs (llama-server, `mlc_llm serve`, Ollama, vLLM, ...)."""

    name = "openai-http"

    def __init__(self, options: FrameworkOptions) -> None:
        if options.endpoint is None:
            raise MeltError(
                "--framework openai-http needs --endpoint URL "
                "(the server's base URL, e.g. http://127.0.0.1:8080/v1)"
            )
        self.endpoint = Endpoint.parse(options.endpoint)
        self._headers = api_key_headers(options.api_key_env)
        self._api_model = options.api_model
        self._info: ServerInfo | None = None

    def _server(self) -> ServerInfo:
        if self._info is None:
            client, self._info, _ = connect(self.endpoint, self._headers, self._api_model)
            client.close()
        return self._info

    def version(self) -> str:
        return f"openai-http → {self._server().describe()}"

    def system_info(self) -> str:
        return server_system_info(self._server())

    def load(self, artifact: Artifact, settings: RunSettings) -> OpenAIHttpEngine:
        """`artifact` is what the user says the server runs (recorded with the run; a
        remote server's weights cannot be checked from here)."""
        client, self._info, model = connect(self.endpoint, self._headers, self._api_model)
        return OpenAIHttpEngine(client, self._info, model, settings)

    def prompt_counter(self, artifact: Artifact) -> Callable[[Sequence[str]], int | None]:
        """The server's own template and tokenizer (llama-server); None elsewhere."""
        client, info, model = connect(self.endpoint, self._headers, self._api_model)
        return OpenAIHttpEngine(client, info, model, RunSettings(threads=1)).chat_prompt_tokens

    def tokenizer(self, artifact: Artifact) -> Callable[[str], list[int]]:
        """The server's own tokenizer (`/tokenize`), one request per call."""
        client, info, model = connect(self.endpoint, self._headers, self._api_model)
        return OpenAIHttpEngine(client, info, model, RunSettings(threads=1)).tokenize
