"""`--framework llama-server`: llama.cpp's own server, started by melt on the run's device.

The model and the binary are put on the device, llama-server is started there on a free
loopback port with flags taken from the run's settings (under the watchdog), the port is
forwarded to the controller, and the openai-http engine drives it with llama-server's
dialect. The run's artifact is the GGUF melt started it with, so its sha256 is checked.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from melt.compute import ComputeAsk, ComputeDevice
from melt.config import RunSettings
from melt.errors import MeltError
from melt.frameworks.base import FrameworkDefaults, FrameworkOptions
from melt.frameworks.llama_server.devices import list_devices
from melt.frameworks.llama_server.engine import LlamaServerEngine, launch
from melt.frameworks.llama_server.host import Placed, ServerHost
from melt.frameworks.llama_server.process import last_lines
from melt.frameworks.llamacpp.settings import LlamaCppKnobs
from melt.models import Artifact
from melt.runtimes.cache import all_runtimes, matching, runtime_of
from melt.runtimes.choice import runtime_for
from melt.runtimes.targets import target_for_abi

BINARY_ENV = "MELT_LLAMA_SERVER"
VERSION_TIMEOUT_S = 30.0
TOOL = "llama-server"


def ci_runtimes() -> Path:
    """Where `.ci/build-llama-cpp-tools` (`melt runtimes build`) keeps CI's runtimes."""
    cache = os.environ.get("MELT_CI_CACHE") or str(Path.home() / ".cache" / "melt-ci")
    return Path(cache) / "runtimes"


def cached_binary() -> Path:
    """The llama-server of the runtime `.ci/build-llama-cpp-tools` builds for this machine
    (its llama-bench and llama-perplexity are beside it); a path that does not exist when
    none is built yet."""
    found = target_for_abi(platform.machine())
    runtime = found and matching(found.name, "cpu", TOOL, root=ci_runtimes())
    return Path(runtime.binary(TOOL)) if runtime else ci_runtimes() / "none" / TOOL


# The backends a run that offloads looks for, in order, when melt chooses the runtime.
GPU_BACKENDS = ("cuda", "vulkan")


def default_binary(host: ServerHost, backend: str = "cpu") -> str:
    """The device's inventory `llama_server`; on this machine `$MELT_LLAMA_SERVER`; else the
    runtime melt built for the device's ABI and the run's backend (`melt runtimes build`),
    and on this machine CI's; else one line saying which build command makes it."""
    if host.configured_binary:
        return host.configured_binary
    if host.local and os.environ.get(BINARY_ENV):
        return os.environ[BINARY_ENV]
    try:
        return runtime_for(host.name, host.abi, backend, TOOL).binary(TOOL)
    except MeltError:
        if host.local and cached_binary().is_file():
            return str(cached_binary())
        raise


def _runtime_record(binary: str, device: str) -> dict[str, Any] | None:
    """`runs.runtime` for a llama-server of a melt runtime, here (checked against its
    recorded sha256 first) or kept on `device` where it was built; None for another binary."""
    runtime = runtime_of(Path(binary))
    if runtime is not None:
        runtime.verify(TOOL)
        return runtime.record(TOOL)
    kept = (r for r in all_runtimes() if r.device == device and r.has(TOOL))
    return next((r.record(TOOL) for r in kept if r.binary(TOOL) == binary), None)


class LlamaServerSettings(LlamaCppKnobs):
    """llama-server, started by melt on the device: llama.cpp's knobs become its flags
    (`--flash-attn`, `--cache-type-k/-v`, `--cpu-mask`, `--cpu-strict`, `--poll`,
    `--load-mode`), beside the shared settings (threads, ctx, batch, sampling) and its own
    options (`--server-binary`)."""

    framework: Literal["llama-server"] = "llama-server"


class LlamaServer(FrameworkDefaults):
    """llama.cpp's `llama-server`, started by melt on the run's device. `options.device` is
    the `ServerHost` the runner gives for that device."""

    name = "llama-server"

    def __init__(self, options: FrameworkOptions) -> None:
        self._host: ServerHost | None = options.device
        self._binary_arg = options.server_binary
        self._binary: str | None = None
        self.deployed: dict[str, Placed] = {}
        self.runtime: dict[str, Any] | None = None  # the melt runtime it runs, if one

    @property
    def host(self) -> ServerHost:
        """The run's device side; planning (variants, prompt counts) needs none."""
        if self._host is None:
            raise MeltError(
                "--framework llama-server starts its server on a device, and only a bench "
                "run gives it one (melt eval and other commands cannot serve it)"
            )
        return self._host

    def binary(self) -> str:
        """The executable's path on the device (pushed there on first use if needed)."""
        if self._binary is None:
            binary = self._binary_arg or default_binary(self.host)
            self.runtime = _runtime_record(binary, self.host.name)
            if self.runtime and self.runtime["device"] == self.host.name:
                placed = Placed(binary, 0)  # built on the device and kept there (`--on`)
            else:
                placed = self.host.put_binary(binary)
            self.deployed["llama-server"] = placed
            self._binary = placed.path
        return self._binary

    def _offload_runtime(self) -> None:
        """A run that offloads takes a runtime with a GPU backend for the device's ABI when
        melt chose a cpu one by itself (the user's own binary is theirs to choose): the same
        llama.cpp, so the version already read stands; what ran is recorded from the
        server's own report either way."""
        named = self._binary_arg or self.host.configured_binary
        if named or (self.host.local and os.environ.get(BINARY_ENV)) or not self.runtime:
            return
        if self.runtime.get("backend") != "cpu":
            return
        for backend in GPU_BACKENDS:
            try:
                found = runtime_for(self.host.name, self.host.abi, backend, TOOL)
            except MeltError:
                continue
            self._binary_arg = found.binary(TOOL)
            self._binary = None
            return

    def deploy_summary(self) -> dict[str, Any]:
        """What this framework put on the device: each file's path and bytes pushed."""
        files = {
            kind: {"path": d.path, "bytes_pushed": d.bytes_pushed}
            for kind, d in self.deployed.items()
        }
        pushed = sum(d.bytes_pushed for d in self.deployed.values())
        return {"files": files, "bytes_pushed": pushed, "runtime": self.runtime}

    def _version_text(self) -> str:
        binary = self.binary()
        code, output = self.host.run([binary, "--version"], timeout=VERSION_TIMEOUT_S)
        lines = [line for line in output.splitlines() if line.startswith("version:")]
        if code != 0 or not lines:
            said = f"exited with code {code}" if code != 0 else "printed no 'version:' line"
            raise MeltError(
                f"--server-binary {binary} is not a working llama-server on "
                f"'{self.host.name}': `--version` {said}; its last output: "
                f"{last_lines(output)}"
            )
        return output.strip()

    def version(self) -> str:
        lines = [ln for ln in self._version_text().splitlines() if ln.startswith("version:")]
        return f"llama-server {lines[0].removeprefix('version:').strip()}"

    def system_info(self) -> str:
        return self._version_text()

    def compute_devices(self) -> tuple[ComputeDevice, ...]:
        """`llama-server --list-devices` on the device."""
        return list_devices(self.host, self.binary())

    def load(self, artifact: Artifact, settings: RunSettings) -> LlamaServerEngine:
        self.binary()  # melt's own choice, if it chose, is known from here on
        if ComputeAsk.of(settings.engine).offload:
            self._offload_runtime()
        binary = self.binary()
        model = self.host.put_model(artifact)
        self.deployed[f"model {artifact.sha256[:12]}"] = model
        return launch(self.host, binary, model.path, settings, artifact.size_bytes)

    def tokenizer(self, artifact: Artifact) -> Callable[[str], list[int]]:
        from melt.frameworks.llamacpp.engine import LlamaCpp

        return LlamaCpp().tokenizer(artifact)

    def prompt_counter(self, artifact: Artifact) -> Callable[[Sequence[str]], int | None]:
        """The GGUF's own template and vocabulary, as the server will use them (read on the
        controller, before the server starts)."""
        from melt.frameworks.llamacpp.engine import LlamaCpp

        return LlamaCpp().prompt_counter(artifact)
