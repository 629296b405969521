"""llama.cpp's own `llama-server`, started by melt on a device and driven over HTTP.

The runner puts the model on the device, starts llama-server there on a free loopback
port with flags taken from the run's settings, forwards that port to the controller, waits
for `/health`, and hands the openai-http engine the forwarded endpoint. The server is
stopped by its PID whatever happens (the engine's `close`, a failure, Ctrl-C): SIGTERM,
then SIGKILL after `STOP_GRACE_S`.

What is measured where: token arrival times are read on the controller (see
`frameworks.openai_http`); the server's own `timings` are on the device's clock; the
server's memory and CPU time are in the device's `/proc/<pid>` (the engine exposes `pid`).
"""

from __future__ import annotations

import logging
import os
import random
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from melt.config import RunSettings
from melt.devices.base import Device, DeviceError, DeviceProcess
from melt.devices.deploy import Deployed, ensure_file, ensure_model, file_sha256
from melt.devices.proc import stat_cpu_ticks
from melt.errors import MeltError
from melt.frameworks.base import FrameworkDefaults, FrameworkOptions
from melt.frameworks.history import Message
from melt.frameworks.llamacpp import KNOBS
from melt.frameworks.llamacpp.settings import LlamaCppKnobs
from melt.frameworks.openai_client import Endpoint, HttpClient, ServerError
from melt.frameworks.openai_http import (
    OpenAIHttpEngine,
    ServerInfo,
    choose_model,
    probe_server,
    server_system_info,
)
from melt.frameworks.registry import Declaration, Kind, Needs, Option
from melt.models import Artifact
from melt.traces import LoadTrace, TurnTrace

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 180.0
STOP_GRACE_S = 10.0
PORT_RANGE = (20000, 60000)
PORT_ATTEMPTS = 3
BINARY_ENV = "MELT_LLAMA_SERVER"
CACHED_BINARY = "llama.cpp-0.3.36/bin/llama-server"


def cached_binary() -> Path:
    """Where `.ci/build-llama-cpp-tools` puts the llama-server it builds for this machine."""
    cache = os.environ.get("MELT_CI_CACHE") or str(Path.home() / ".cache" / "melt-ci")
    return Path(cache) / CACHED_BINARY


def default_binary(device: Device) -> str:
    """The device's inventory `llama_server`, else `$MELT_LLAMA_SERVER`, else the CI build
    (the last two only for this machine)."""
    from_inventory = device.facts().extra.get("llama_server")
    if from_inventory:
        return str(from_inventory)
    if device.transport == "local":
        if os.environ.get(BINARY_ENV):
            return os.environ[BINARY_ENV]
        if cached_binary().is_file():
            return str(cached_binary())
    raise MeltError(
        f"no llama-server binary for device '{device.name}': pass --server-binary PATH (a "
        f"llama-server built for that device's CPU), set llama_server: in the inventory, or "
        f"{BINARY_ENV} for this machine (.ci/build-llama-cpp-tools builds one)"
    )


def model_on_device(device: Device, artifact: Artifact) -> Deployed:
    """The model file on the device: where it is on the local device, pushed by sha256 into
    the device's workdir otherwise (not again when it is already there)."""
    return ensure_model(device, artifact.path, artifact.sha256)


def binary_on_device(device: Device, binary: str) -> Deployed:
    """The server executable on the device: as given on the local device, or when it is not
    a file here (a path on the device, inventory `llama_server:`); otherwise pushed into the
    device's workdir under its sha256 (a wrong ABI is refused before the push) and made
    executable."""
    local = Path(binary)
    if device.transport == "local" or not local.is_file():
        return Deployed(binary, 0)
    sha256 = file_sha256(local)
    remote = f"{device.workdir()}/bin/{sha256[:16]}-{local.name}"
    deployed = ensure_file(device, local, remote, sha256)
    result = device.run(["chmod", "755", remote])
    if not result.ok:
        raise DeviceError(f"{device.name}: chmod {remote} failed: {result.stderr.strip()}")
    return deployed


def used_ports(device: Device) -> set[int]:
    """TCP ports bound on the device, from `/proc/net/tcp{,6}` through its file view."""
    used: set[int] = set()
    tables = device.read_many(["/proc/net/tcp", "/proc/net/tcp6"])
    for text in tables.values():
        for line in (text or "").splitlines()[1:]:
            fields = line.split()
            if len(fields) > 1 and ":" in fields[1]:
                used.add(int(fields[1].rsplit(":", 1)[1], 16))
    return used


def free_port(device: Device, rng: random.Random | None = None) -> int:
    """A TCP port nothing on the device is bound to (llama-server cannot take `--port 0`)."""
    used = used_ports(device)
    rng = rng or random.Random()
    for _ in range(1000):
        port = rng.randrange(*PORT_RANGE)
        if port not in used:
            return port
    raise DeviceError(f"{device.name}: no free TCP port in {PORT_RANGE[0]}–{PORT_RANGE[1]}")


def server_flags(settings: RunSettings) -> dict[str, str]:
    """llama-server's flags for a run's settings, as given on its command line (stored with
    the run). One slot and no memory fitting, so the context is what `--ctx` says;
    llama.cpp's knobs (flash attention, KV-cache types, affinity, poll, mmap) from the run's
    engine settings, defaults written out so the record says them; the prompt cache in host
    RAM is off (one conversation at a time)."""
    s = settings.sampling
    knobs = settings.engine
    affinity = {"--cpu-mask": knobs.cpu_mask} if knobs.cpu_mask else {}
    return {
        "--threads": str(settings.threads),
        "--threads-batch": str(settings.threads),
        "--ctx-size": str(settings.ctx),
        "--batch-size": str(settings.batch),
        "--ubatch-size": str(settings.batch),
        "--parallel": "1",
        "--fit": "off",
        "--flash-attn": knobs.flash_attn,
        "--cache-type-k": knobs.cache_type_k,
        "--cache-type-v": knobs.cache_type_v,
        **affinity,
        "--cpu-strict": "1" if knobs.cpu_strict else "0",
        "--poll": str(knobs.poll),
        "--load-mode": "mmap" if knobs.mmap else "none",
        "--cache-ram": "0",
        "--seed": str(s.seed),
        "--temp": str(s.temperature),
        "--top-k": str(s.top_k),
        "--top-p": str(s.top_p),
        "--min-p": str(s.min_p),
        "--repeat-penalty": str(s.repeat_penalty),
        "--repeat-last-n": str(s.repeat_last_n),
        "--n-predict": str(settings.max_new_tokens),
    }


def server_argv(binary: str, model: str, port: int, settings: RunSettings) -> list[str]:
    argv = [binary, "--model", model, "--host", "127.0.0.1", "--port", str(port)]
    for flag, value in server_flags(settings).items():
        argv += [flag, value]
    return [*argv, "--no-webui", "--slots"]


@dataclass(slots=True)
class ServerProcess:
    """A llama-server running on a device; `stop` ends it by PID and is safe to call twice."""

    device: Device
    process: DeviceProcess
    argv: list[str]
    port: int
    stopped: bool = False

    @property
    def pid(self) -> int:
        return self.process.pid

    def exited(self) -> int | None:
        """The exit status if it has ended, polling for up to 0.2 s."""
        try:
            return self.process.wait(timeout=0.2)
        except DeviceError:
            return None

    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        self.process.signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_GRACE_S)
        except DeviceError:
            log.warning(
                "llama-server (pid %d on %s) ignored SIGTERM for %.0f s; killing it",
                self.pid,
                self.device.name,
                STOP_GRACE_S,
            )
            self.process.signal(signal.SIGKILL)
            self.process.wait(timeout=STOP_GRACE_S)


def _tail(text: str, lines: int = 8) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()][-lines:]
    return "\n".join(f"  {line}" for line in kept) or "  (nothing)"


class ServerStartError(MeltError):
    """llama-server did not come up: a wrong binary, a model it cannot load, a port taken."""

    def __init__(self, message: str, exit_code: int | None, stderr: str) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.stderr = stderr

    @property
    def port_taken(self) -> bool:
        return "bind" in self.stderr.lower() and self.exit_code is not None


def wait_ready(server: ServerProcess, client: HttpClient, timeout_s: float) -> None:
    """Poll `/health` until it says ok; a server that exits or never gets there is an error
    carrying its stderr tail."""
    deadline = time.monotonic() + timeout_s
    health = f"{client.endpoint.root}/health"
    while True:
        try:
            status, _ = client.request("GET", health)
            if status == 200:
                return
        except ServerError:
            pass  # not listening yet
        code = server.exited()
        if code is not None:
            tail = server.process.stderr_tail()
            raise ServerStartError(
                f"llama-server ({server.argv[0]}) exited with status {code} on "
                f"{server.device.name} before it was ready; its stderr ends:\n{_tail(tail)}",
                exit_code=code,
                stderr=tail,
            )
        if time.monotonic() > deadline:
            tail = server.process.stderr_tail()
            raise ServerStartError(
                f"llama-server ({server.argv[0]}) did not answer /health within "
                f"{timeout_s:.0f} s on {server.device.name}; its stderr ends:\n{_tail(tail)}",
                exit_code=None,
                stderr=tail,
            )


def clock_ticks_per_s(device: Device) -> tuple[int, str]:
    """USER_HZ of the device (the unit of /proc/<pid>/stat times), and where it came from."""
    try:
        text = device.run(["getconf", "CLK_TCK"], timeout=30).stdout.strip()
    except DeviceError:
        text = ""
    if text.isdigit() and int(text) > 0:
        return int(text), "getconf CLK_TCK on the device"
    return 100, "USER_HZ 100 (Linux's on every ABI; the device has no getconf)"


class LlamaServerEngine(OpenAIHttpEngine):
    """The openai-http engine over a llama-server melt started; `pid` is the server's on the
    device (for its `/proc/<pid>`), and closing the engine stops the server. Each turn's CPU
    time is the server's utime + stime from its `/proc/<pid>/stat` on the device, read before
    the turn's requests (its template and tokenize calls included) and after the stream ends
    (None when either read fails)."""

    ctx_flag = "--ctx"

    def __init__(
        self,
        server: ServerProcess,
        client: HttpClient,
        info: ServerInfo,
        model: str,
        settings: RunSettings,
        load: LoadTrace,
        ticks_per_s: int,
    ) -> None:
        super().__init__(client, info, model, settings, load=load, on_close=server.stop)
        self.server = server
        self.pid = server.pid
        self.ticks_per_s = ticks_per_s

    def _cpu_ticks(self) -> int | None:
        try:
            return stat_cpu_ticks(self.server.device.read_text(f"/proc/{self.pid}/stat"))
        except (OSError, DeviceError, ValueError, IndexError) as exc:
            log.info("llama-server pid %d: no CPU time (%s)", self.pid, exc)
            return None

    def _turn(
        self,
        history: list[Message],
        user_text: str,
        conversation_index: int,
        turn_index: int,
        warmup: bool,
    ) -> TurnTrace:
        before = self._cpu_ticks()
        trace = super()._turn(history, user_text, conversation_index, turn_index, warmup)
        after = self._cpu_ticks()
        if before is None or after is None:
            return trace
        return replace(trace, cpu_time_ns=(after - before) * 1_000_000_000 // self.ticks_per_s)


def _drain_stdout(process: DeviceProcess) -> None:
    """Read the server's stdout in the background (llama.cpp logs plain lines there), so a
    full pipe never stalls it; its diagnostics are on stderr, which the process keeps."""

    def drain() -> None:
        try:
            for _ in process.lines():
                pass
        except DeviceError as exc:  # the device is gone: the run says so, not this thread
            log.info("llama-server stdout ended: %s", exc)

    threading.Thread(target=drain, name=f"llama-server-stdout-{process.pid}", daemon=True).start()


def start_server(
    device: Device,
    argv_for_port: Callable[[int], list[str]],
    timeout_s: float = READY_TIMEOUT_S,
) -> tuple[ServerProcess, HttpClient, int]:
    """Start the server on a free port (another one if that port was taken meanwhile),
    forwarded to the controller and answering `/health`; returns it, a client on the
    forwarded port and the start-to-ready time in ns (controller clock)."""
    for attempt in range(PORT_ATTEMPTS):
        port = free_port(device)
        argv = argv_for_port(port)
        start = time.monotonic_ns()
        server = ServerProcess(device, device.spawn(argv), argv, port)
        _drain_stdout(server.process)
        client: HttpClient | None = None
        try:
            local_port = device.forward(port)
            client = HttpClient(Endpoint.parse(f"http://127.0.0.1:{local_port}"))
            wait_ready(server, client, timeout_s)
            return server, client, time.monotonic_ns() - start
        except ServerStartError as exc:
            server.stop()
            if client is not None:
                client.close()
            if not exc.port_taken or attempt == PORT_ATTEMPTS - 1:
                raise
            log.info("port %d was taken on %s; trying another", port, device.name)
        except BaseException:
            server.stop()
            if client is not None:
                client.close()
            raise
    raise AssertionError("unreachable")


def launch(
    device: Device, binary: str, model_path: str, settings: RunSettings, model_bytes: int
) -> LlamaServerEngine:
    """A llama-server for this run on the device, ready, with its engine."""
    server, client, ready_ns = start_server(
        device, lambda port: server_argv(binary, model_path, port, settings)
    )
    try:
        ticks_per_s, ticks_source = clock_ticks_per_s(device)
        info = probe_server(client)
        model = choose_model(info, None, client.endpoint.url)
        meta = info.model_meta(model)
        load = LoadTrace(
            load_ns=ready_ns,
            model_bytes=meta.get("size", model_bytes),
            model_params=meta.get("n_params"),
            rss_before_bytes=None,
            rss_after_bytes=None,
            context_tokens=info.n_ctx,
            system_info=server_system_info(info),
            engine_settings={
                **_recorded_settings(server.argv, settings),
                "cpu_time_source": f"utime+stime of the server's /proc/{server.pid}/stat on "
                f"the device before and after each turn, in 1/{ticks_per_s} s ticks "
                f"({ticks_source})",
            },
        )
        return LlamaServerEngine(server, client, info, model, settings, load, ticks_per_s)
    except BaseException:
        server.stop()
        client.close()
        raise


def _recorded_settings(argv: Sequence[str], settings: RunSettings) -> dict[str, Any]:
    return {
        "server_flags": server_flags(settings),
        "server_argv": list(argv),
        "load_time_source": "spawn to first 200 from /health, controller clock",
    }


class LlamaServerSettings(LlamaCppKnobs):
    """llama-server, started by melt on the device: llama.cpp's knobs become its flags
    (`--flash-attn`, `--cache-type-k/-v`, `--cpu-mask`, `--cpu-strict`, `--poll`,
    `--load-mode`), beside the shared settings (threads, ctx, batch, sampling) and its own
    options (`--server-binary`)."""

    framework: Literal["llama-server"] = "llama-server"


FRAMEWORK = Declaration(
    name="llama-server",
    summary="melt starts llama.cpp's server on the device",
    kind=Kind.STARTED_SERVER,
    implementation="melt.runners.server:LlamaServer",
    settings="melt.runners.server:LlamaServerSettings",
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


class LlamaServer(FrameworkDefaults):
    """llama.cpp's `llama-server`, started by melt on the run's device."""

    name = "llama-server"

    def __init__(self, options: FrameworkOptions) -> None:
        self._device = options.device
        self._binary_arg = options.server_binary
        self._binary: str | None = None
        self.deployed: dict[str, Deployed] = {}

    @property
    def device(self) -> Device:
        """The run's device; this machine when the session gave none."""
        if self._device is None:
            from melt.devices import LocalDevice

            self._device = LocalDevice()
        return self._device

    def binary(self) -> str:
        """The executable's path on the device (pushed there on first use if needed)."""
        if self._binary is None:
            given = self._binary_arg or default_binary(self.device)
            deployed = binary_on_device(self.device, given)
            self.deployed["llama-server"] = deployed
            self._binary = deployed.path
        return self._binary

    def deploy_summary(self) -> dict[str, Any]:
        """What this framework put on the device: each file's path and bytes pushed."""
        files = {
            kind: {"path": d.path, "bytes_pushed": d.bytes_pushed}
            for kind, d in self.deployed.items()
        }
        return {"files": files, "bytes_pushed": sum(d.bytes_pushed for d in self.deployed.values())}

    def version(self) -> str:
        result = self.device.run([self.binary(), "--version"], timeout=30.0)
        text = (result.stdout + result.stderr).strip()
        lines = [line for line in text.splitlines() if line.startswith("version:")]
        if not result.ok or not lines:
            raise MeltError(
                f"--server-binary {self.binary()} is not a working llama-server on "
                f"'{self.device.name}' (`--version` said: {text[-300:] or 'nothing'})"
            )
        return f"llama-server {lines[0].removeprefix('version:').strip()}"

    def system_info(self) -> str:
        result = self.device.run([self.binary(), "--version"], timeout=30.0)
        return (result.stdout + result.stderr).strip()

    def load(self, artifact: Artifact, settings: RunSettings) -> LlamaServerEngine:
        binary = self.binary()
        model = model_on_device(self.device, artifact)
        self.deployed[f"model {artifact.sha256[:12]}"] = model
        return launch(self.device, binary, model.path, settings, artifact.size_bytes)

    def tokenizer(self, artifact: Artifact) -> Callable[[str], list[int]]:
        from melt.frameworks.llamacpp.engine import LlamaCpp

        return LlamaCpp().tokenizer(artifact)

    def prompt_counter(self, artifact: Artifact) -> Callable[[Sequence[str]], int | None]:
        """The GGUF's own template and vocabulary, as the server will use them (read on the
        controller, before the server starts)."""
        from melt.frameworks.llamacpp.engine import LlamaCpp

        return LlamaCpp().prompt_counter(artifact)
