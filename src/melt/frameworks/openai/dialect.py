"""What differs between OpenAI-compatible servers, as a few hooks over one client.

lm-evaluation-harness's `TemplateAPI` is the model: one client and one engine, and a dialect
that says how a request body is made (`payload`) and what the server offers beyond the
OpenAI API (a tokenizer). The plain OpenAI dialect asks only for what the API defines;
llama-server's adds its own sampling fields and per-token timings and uses its
`/apply-template` and `/tokenize` routes. `identify` picks the dialect from what the server
says about itself (llama-server answers `/props`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from melt.config import RunSettings
from melt.errors import MeltError
from melt.frameworks.history import Message
from melt.frameworks.openai.client import HttpClient, Reply, ServerError

log = logging.getLogger(__name__)


class OpenAIDialect:
    """The OpenAI chat-completions API and nothing else: no tokenizer, no server timers."""

    kind = "openai-compatible"
    has_tokenizer = False

    def payload(
        self, model: str, messages: Sequence[Message], settings: RunSettings
    ) -> dict[str, Any]:
        """The streamed chat-completions request for these messages."""
        s = settings.sampling
        return {
            "model": model,
            "messages": list(messages),
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": settings.max_new_tokens,
            "temperature": s.temperature,
            "top_p": s.top_p,
            "seed": s.seed,
        }

    def chat_tokens(self, client: HttpClient, messages: Sequence[Message]) -> list[int] | None:
        """The templated prompt's tokens as the server counts them; None when it cannot say."""
        return None

    def tokenize(self, client: HttpClient, text: str) -> list[int]:
        raise MeltError(
            f"the server at {client.endpoint.url} has no /tokenize endpoint "
            "(melt cannot count tokens through the OpenAI API)"
        )


class LlamaServerDialect(OpenAIDialect):
    """llama.cpp's llama-server: its own sampling fields, `timings_per_token` (a running
    count of generated tokens in every event), the prompt cache, and its tokenizer routes."""

    kind = "llama-server"
    has_tokenizer = True

    def payload(
        self, model: str, messages: Sequence[Message], settings: RunSettings
    ) -> dict[str, Any]:
        s = settings.sampling
        return {
            **super().payload(model, messages, settings),
            "top_k": s.top_k,
            "min_p": s.min_p,
            "repeat_penalty": s.repeat_penalty,
            "repeat_last_n": s.repeat_last_n,
            "cache_prompt": True,
            "timings_per_token": True,
        }

    def chat_tokens(self, client: HttpClient, messages: Sequence[Message]) -> list[int]:
        prompt = _field(
            client,
            "/apply-template",
            client.post_json(f"{client.endpoint.root}/apply-template", {"messages": messages}),
            "prompt",
            str,
        )
        return self.tokenize(client, prompt)

    def tokenize(self, client: HttpClient, text: str) -> list[int]:
        body = {"content": text, "add_special": True, "parse_special": True}
        path = f"{client.endpoint.root}/tokenize"
        tokens = _field(client, path, client.post_json(path, body), "tokens", list)
        if not all(isinstance(t, int) and not isinstance(t, bool) for t in tokens):
            raise ServerError(f"{client.where(path)}: 'tokens' holds something not a token id")
        return list(tokens)


def _field(client: HttpClient, path: str, data: Any, name: str, kind: type) -> Any:
    value = data.get(name) if isinstance(data, dict) else None
    if not isinstance(value, kind):
        raise ServerError(f"{client.where(path)}: the reply has no '{name}' ({kind.__name__})")
    return value


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """What the server says about itself: its dialect, llama-server's `/props` when it has
    them, the model entries of `/v1/models` and what that route answered."""

    dialect: OpenAIDialect
    props: dict[str, Any] | None
    models: list[dict[str, Any]]
    models_reply: str = "HTTP 200"

    @property
    def kind(self) -> str:
        return self.dialect.kind

    @property
    def n_ctx(self) -> int | None:
        settings = (self.props or {}).get("default_generation_settings")
        value = settings.get("n_ctx") if isinstance(settings, dict) else None
        return value if isinstance(value, int) and not isinstance(value, bool) and value else None

    def model_ids(self) -> list[str]:
        return [str(m["id"]) for m in self.models if "id" in m]

    def model_meta(self, model: str) -> dict[str, Any]:
        for entry in self.models:
            if entry.get("id") == model and isinstance(entry.get("meta"), dict):
                return dict(entry["meta"])
        return {}

    def describe(self) -> str:
        if self.props is not None:
            return f"{self.kind} {self.props.get('build_info', '(build unknown)')}"
        owners = sorted({str(m.get("owned_by")) for m in self.models if m.get("owned_by")})
        return f"{self.kind} (models owned by: {', '.join(owners) or 'unknown'})"


def identify(client: HttpClient) -> ServerInfo:
    """Which server this is and which models it serves; `ServerError` when it does not
    answer at all or refuses melt's key."""
    props = client.request("GET", f"{client.endpoint.root}/props")
    is_llama = props.ok_json and "default_generation_settings" in props.data
    listing = client.request("GET", f"{client.endpoint.api}/models")
    if listing.status in (401, 403):
        raise ServerError(
            f"{listing.describe()} (the server wants an API key: "
            "check the variable --api-key-env names)"
        )
    entries = listing.data.get("data") if listing.ok_json else None
    models = [m for m in entries if isinstance(m, dict)] if isinstance(entries, list) else []
    return ServerInfo(
        dialect=LlamaServerDialect() if is_llama else OpenAIDialect(),
        props=props.data if is_llama else None,
        models=models,
        models_reply=_listing_said(listing),
    )


def _listing_said(listing: Reply) -> str:
    if listing.ok_json and isinstance(listing.data.get("data"), list):
        return "HTTP 200"
    if listing.ok_json:
        return "HTTP 200 without a 'data' list"
    return listing.describe()


def choose_model(info: ServerInfo, wanted: str | None, url: str) -> str:
    """The model to ask the server for: `--api-model`, else the one model it lists."""
    ids = info.model_ids()
    if wanted is not None:
        if ids and wanted not in ids:
            log.warning("server at %s does not list model '%s' (it lists: %s)", url, wanted, ids)
        return wanted
    if len(ids) == 1:
        return ids[0]
    if ids:
        listed = f"it serves: {', '.join(ids)}"
    elif info.models_reply == "HTTP 200":
        listed = "it lists none at /v1/models"
    else:
        listed = f"its /v1/models answered {info.models_reply}"
    raise MeltError(f"--endpoint {url}: name the model with --api-model ({listed})")
