"""OpenAI-compatible servers over HTTP (`--framework openai-http`, and the client half of
`llama-server`).

- `client`: one kept-alive HTTP connection, server-sent events stamped on arrival;
- `events`: the shape of one streamed event, checked once;
- `counts`: the server's counts checked against what was observed;
- `stream`: `TurnStream`, the pure fold of one turn's events into stamps and figures;
- `dialect`: what differs between servers (request body, tokenizer), and which one this is;
- `engine`: the chat engine over the above; `framework`: the registered `openai-http`.
"""

from melt.frameworks.registry import Declaration, Kind, Option

FRAMEWORK = Declaration(
    name="openai-http",
    summary="a server you already run",
    kind=Kind.EXTERNAL_SERVER,
    implementation="melt.frameworks.openai.framework:OpenAIHttp",
    settings="melt.frameworks.openai.framework:OpenAIHttpSettings",
    options=(
        Option("endpoint", "the server's base URL, e.g. http://127.0.0.1:8080/v1."),
        Option("api_model", "the model name to request (default: the server's only model)."),
        Option("api_key_env", "environment variable holding the API key (read, never stored)."),
    ),
)
