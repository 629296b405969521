"""The flags that choose a framework and the options only some frameworks take.

Declared once here so every command that runs a framework (`melt bench`, ...) offers the
same flags with the same help; `framework_options` turns them into the value the framework
registry checks (a flag given to a framework that does not take it is a user error).
"""

from __future__ import annotations

import typer

from melt.frameworks import FrameworkOptions

FRAMEWORK_OPTION = typer.Option(
    None,
    "--framework",
    help="Inference framework: llama.cpp (in-process, default), onnxruntime-genai (in-process), "
    "llama-server (melt starts "
    "llama.cpp's server on the device), openai-http (a server you already run).",
)
ENDPOINT_OPTION = typer.Option(
    None,
    "--endpoint",
    help="openai-http: the server's base URL, e.g. http://127.0.0.1:8080/v1.",
)
API_MODEL_OPTION = typer.Option(
    None,
    "--api-model",
    help="openai-http: the model name to request (default: the server's only model).",
)
API_KEY_ENV_OPTION = typer.Option(
    None,
    "--api-key-env",
    help="openai-http: environment variable holding the API key (read, never stored).",
)
SERVER_BINARY_OPTION = typer.Option(
    None,
    "--server-binary",
    help="llama-server: the llama-server executable for the device (default: the "
    "inventory's llama_server, or $MELT_LLAMA_SERVER here).",
)


def framework_options(
    endpoint: str | None,
    api_model: str | None,
    api_key_env: str | None,
    server_binary: str | None,
) -> FrameworkOptions:
    return FrameworkOptions(
        endpoint=endpoint,
        api_model=api_model,
        api_key_env=api_key_env,
        server_binary=server_binary,
    )
