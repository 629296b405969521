"""`--framework openai-http`: any running OpenAI-compatible server (llama-server,
`mlc_llm serve`, Ollama, vLLM, ...), reached at `--endpoint`.

The run is filed under the model the server serves (`--api-model`, else the one model its
`/v1/models` lists), by that id: melt cannot read a remote server's weights, so it stores no
sha256 for them (an empty one, as for imported runs) and no quantization it cannot see.

The API key is read from the environment variable `--api-key-env` names, at start-up, and
lives only in the client's request headers: it is never stored or logged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from melt.config import RunSettings
from melt.config.settings import FrameworkSettings
from melt.errors import MeltError
from melt.frameworks.base import FrameworkOptions
from melt.frameworks.openai.client import Endpoint, HttpClient, ServerError, api_key_headers
from melt.frameworks.openai.dialect import ServerInfo, choose_model, identify
from melt.frameworks.openai.engine import OpenAIHttpEngine, server_system_info
from melt.models import Artifact
from melt.models.artifact import Origin

SERVED_FORMAT = "served"
UNKNOWN = "unknown"


def connect(
    endpoint: Endpoint, headers: dict[str, str], api_model: str | None
) -> tuple[HttpClient, ServerInfo, str]:
    """A client for a server that answers, what it is, and the model to ask it for; an
    unreachable endpoint is a user error naming it."""
    client = HttpClient(endpoint, headers)
    try:
        info = identify(client)
        return client, info, choose_model(info, api_model, endpoint.url)
    except ServerError as exc:
        client.close()
        raise MeltError(f"--endpoint {endpoint.url}: {exc}") from None
    except BaseException:
        client.close()
        raise


def served_artifact(info: ServerInfo, model: str, url: str) -> Artifact:
    """The model a run is filed under: the server's id for it, its size when the server
    says, and no sha256 (the weights are the server's, not checkable from here)."""
    meta = info.model_meta(model)
    size = meta.get("size")
    where = (info.props or {}).get("model_path")
    return Artifact(
        name=model,
        path=Path(where if isinstance(where, str) and where else model),
        format=SERVED_FORMAT,
        quant=UNKNOWN,
        sha256="",
        size_bytes=size if isinstance(size, int) and not isinstance(size, bool) else 0,
        origin=Origin(
            source="openai-http",
            note=f"served as '{model}' by {url}; its weights are not checkable from melt",
        ),
    )


class OpenAIHttpSettings(FrameworkSettings):
    """A server the user runs, reached over its OpenAI-compatible API (`--endpoint`,
    `--api-model`, `--api-key-env` are its options); melt sets none of its knobs."""

    framework: Literal["openai-http"] = "openai-http"


class OpenAIHttp:
    """A server the user already runs."""

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

    @contextmanager
    def _session(self) -> Iterator[tuple[HttpClient, ServerInfo, str]]:
        client, self._info, model = connect(self.endpoint, self._headers, self._api_model)
        try:
            yield client, self._info, model
        finally:
            client.close()

    def _server(self) -> ServerInfo:
        if self._info is None:
            with self._session():
                pass
        assert self._info is not None
        return self._info

    def version(self) -> str:
        return f"openai-http → {self._server().describe()}"

    def system_info(self) -> str:
        return server_system_info(self._server())

    def variant(self, spec: str, quant: str | None, on_step: Callable[[str], None]) -> Artifact:
        """The served model (see the module docstring); `spec` and `quant` name local
        files, which a server's run does not use."""
        with self._session() as (_, info, model):
            return served_artifact(info, model, self.endpoint.url)

    def load(self, artifact: Artifact, settings: RunSettings) -> OpenAIHttpEngine:
        client, self._info, model = connect(self.endpoint, self._headers, self._api_model)
        return OpenAIHttpEngine(client, self._info, model, settings)

    def prompt_counter(self, artifact: Artifact) -> Callable[[Sequence[str]], int | None]:
        """The server's own template and tokenizer (llama-server), one connection per
        count, closed after it; None where the server has no tokenizer."""

        def count(user_turns: Sequence[str]) -> int | None:
            with self._session() as (client, info, _):
                messages = [{"role": "user", "content": t} for t in user_turns]
                tokens = info.dialect.chat_tokens(client, messages)
            return None if tokens is None else len(tokens)

        return count

    def tokenizer(self, artifact: Artifact) -> Callable[[str], list[int]]:
        """The server's own tokenizer (`/tokenize`), one connection per call."""

        def tokenize(text: str) -> list[int]:
            with self._session() as (client, info, _):
                return info.dialect.tokenize(client, text)

        return tokenize
