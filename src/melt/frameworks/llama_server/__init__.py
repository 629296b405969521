"""`--framework llama-server`: llama.cpp's own server, started by melt on the run's device
and driven over HTTP by the openai-http engine with llama-server's dialect.

What this package needs from a device is `host.ServerHost`, which the runner that joins
frameworks and devices provides (`runners/server_host.py`); nothing here imports a device.

- `flags`: llama-server's command line for a run's settings;
- `watchdog`: the sh wrapper that keeps the server from outliving melt's connection;
- `process`: starting it on a free port and waiting for `/health`;
- `engine`: the engine that also reads the server's CPU time; `framework`: the registration.
"""

from melt.frameworks.llamacpp import KNOBS
from melt.frameworks.registry import Declaration, Kind, Needs, Option

FRAMEWORK = Declaration(
    name="llama-server",
    summary="melt starts llama.cpp's server on the device",
    kind=Kind.STARTED_SERVER,
    implementation="melt.frameworks.llama_server.framework:LlamaServer",
    settings="melt.frameworks.llama_server.framework:LlamaServerSettings",
    knobs=KNOBS,
    options=(
        Option(
            "server_binary",
            "the llama-server executable for the device (default: the inventory's "
            "llama_server, or $MELT_LLAMA_SERVER here).",
        ),
    ),
    needs=Needs(binary="llama-server"),
    formats=("gguf",),
    variants="melt.models.quant_types:QUANT_TYPES",
)
