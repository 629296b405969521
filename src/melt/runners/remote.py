"""The controller's side of melt's runner on a remote device (see melt.runners.agent).

`AgentClient` starts `python runner.pyz serve` on the device, sends commands, and reads the
runner's stream in one thread: replies go to the caller waiting for them, turn events to the
conversation being played, sample batches straight to the run's sink (the store). When the
stream ends before a reply (the connection dropped, the runner died), every waiting call
raises a `DeviceError` naming the device and the runner's last words.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import signal
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from melt.compute import ComputeDevice
from melt.devices.base import Device, DeviceError, DeviceProcess
from melt.devices.deploy import Deployed, ensure_model, ensure_runner
from melt.errors import MeltError
from melt.probes.base import Availability, Probe, ProbeInfo
from melt.probes.sampler import SamplerStats
from melt.runners import wire
from melt.runners.base import DetectedProbes, SampleSink
from melt.traces import LoadTrace, TurnTrace
from melt.traces.sample import Sample

if TYPE_CHECKING:
    from melt.config import RunSettings
    from melt.models import Artifact
    from melt.workloads import Conversation

log = logging.getLogger(__name__)

CALL_TIMEOUT_S = 120.0
LOAD_TIMEOUT_S = 600.0
EXIT_TIMEOUT_S = 10.0


def check_remote_framework(device: Device, framework: str | None) -> None:
    """One line, before anything is deployed, when `framework` cannot run in melt's runner
    on a remote device (its declaration's `needs.local_only` says why). The runner is melt's
    code on the device's own Python: the standard library and the engine package the
    framework needs, not melt's other dependencies."""
    from melt.frameworks.registry import declaration

    why = None if framework is None else declaration(framework).needs.local_only
    if why is not None:
        raise MeltError(
            f"--framework {framework} runs on the local device only ({why}); for device "
            f"'{device.name}' pass --framework llama.cpp or llama-server, or run with "
            "--device local"
        )


class AgentClient:
    def __init__(self, device: Device, python: str, runner_path: str) -> None:
        self.device = device
        self._process: DeviceProcess = device.spawn([python, runner_path, "serve"])
        self._lock = threading.Lock()
        self._next_id = 0
        self._waiting: dict[int, queue.Queue[dict[str, Any]]] = {}
        self._dead: str | None = None
        self.sample_sink: SampleSink | None = None
        self._reader = threading.Thread(target=self._read, name="melt-agent", daemon=True)
        self._reader.start()
        self.hello = self.call("hello")

    # --- the stream ----------------------------------------------------------------------

    def _read(self) -> None:
        try:
            for line in self._process.lines():
                if not line.startswith("{"):
                    log.debug("runner on %s: %s", self.device.name, line)
                    continue
                message = json.loads(line)
                if message.get("ev") == "samples":
                    if self.sample_sink is not None:
                        self.sample_sink(wire.samples_from_wire(message["rows"]))
                    continue
                target = self._waiting.get(message.get("id", -1))
                if target is not None:
                    target.put(message)
        except Exception as exc:  # the transport failed under the reader
            self._dead = f"{type(exc).__name__}: {exc}"
        finally:
            self._dead = self._dead or "the runner's output ended"
            for target in list(self._waiting.values()):
                target.put({"ev": "dead"})

    def _lost(self) -> DeviceError:
        tail = self._process.stderr_tail().strip().splitlines()
        last = f"; runner said: {tail[-1][:200]}" if tail else ""
        return DeviceError(
            f"device '{self.device.name}': connection to melt's runner lost ({self._dead}){last}"
        )

    def _send(self, cmd: str, **fields: Any) -> tuple[int, queue.Queue[dict[str, Any]]]:
        with self._lock:
            self._next_id += 1
            ident = self._next_id
            inbox: queue.Queue[dict[str, Any]] = queue.Queue()
            self._waiting[ident] = inbox
        if self._dead is not None:
            raise self._lost()
        try:
            self._process.write(json.dumps({"id": ident, "cmd": cmd, **fields}) + "\n")
        except OSError as exc:
            self._dead = f"{type(exc).__name__}: {exc}"
            raise self._lost() from None
        return ident, inbox

    def _receive(self, ident: int, inbox: queue.Queue[dict[str, Any]], timeout: float) -> dict:
        try:
            message = inbox.get(timeout=timeout)
        except queue.Empty:
            raise DeviceError(
                f"device '{self.device.name}': melt's runner did not answer within {timeout:g} s"
            ) from None
        if message.get("ev") == "dead":
            raise self._lost()
        return message

    @staticmethod
    def _check(message: dict[str, Any]) -> dict[str, Any]:
        if message.get("ok"):
            return message
        if message.get("user_error"):
            raise MeltError(message["error"])
        log.debug("runner traceback:\n%s", message.get("traceback", ""))
        raise RuntimeError(f"on the device: {message['error']}")

    def call(self, cmd: str, timeout: float = CALL_TIMEOUT_S, **fields: Any) -> dict[str, Any]:
        ident, inbox = self._send(cmd, **fields)
        try:
            return self._check(self._receive(ident, inbox, timeout))
        finally:
            self._waiting.pop(ident, None)

    def stream(self, cmd: str, **fields: Any) -> Iterator[dict[str, Any]]:
        """Events of one command until its reply (no timeout: a turn takes what it takes,
        and a lost connection ends the stream)."""
        ident, inbox = self._send(cmd, **fields)
        try:
            while True:
                message = self._receive(ident, inbox, timeout=None)  # type: ignore[arg-type]
                if "ev" in message:
                    yield message
                    continue
                self._check(message)
                return
        finally:
            self._waiting.pop(ident, None)

    def close(self) -> None:
        """Ask the runner to exit; if it does not, signal it; always end the channel."""
        if self._dead is None:
            with contextlib.suppress(MeltError):
                self.call("exit", timeout=EXIT_TIMEOUT_S)
        self._process.close_stdin()
        try:
            self._process.wait(EXIT_TIMEOUT_S)
        except DeviceError:
            self._process.signal(signal.SIGKILL)

    def abort(self) -> None:
        """Stop the command the runner is busy with (a conversation), keep it serving."""
        if self._dead is None:
            try:
                self._process.write(json.dumps({"id": 0, "cmd": "abort"}) + "\n")
            except OSError:
                self._dead = "the runner's input closed"


class RemoteEngine:
    """An engine loaded in the device's runner; `converse` yields traces as they arrive."""

    def __init__(self, client: AgentClient, load: LoadTrace) -> None:
        self._client = client
        self.load = load

    def chat_prompt_tokens(self, user_turns: Sequence[str]) -> int:
        return int(self._client.call("prompt_tokens", user_turns=list(user_turns))["n"])

    def converse(
        self, conversation: Conversation, conversation_index: int, *, warmup: bool = False
    ) -> Iterator[TurnTrace]:
        events = self._client.stream(
            "converse",
            conversation={"id": conversation.id, "turns": list(conversation.turns)},
            index=conversation_index,
            warmup=warmup,
        )
        for event in events:
            if event["ev"] == "turn":
                yield wire.trace_from_wire(event["trace"])

    def close(self) -> None:
        if self._client._dead is None:
            self._client.call("unload")
        else:
            raise self._client._lost()


class RemoteProbe:
    """A probe running in the device's runner: its info as the device declared it, and a
    read for occasional use (cooldown); sampling happens on the device."""

    def __init__(self, client: AgentClient, info: ProbeInfo) -> None:
        self._client = client
        self._info = info
        self.name = info.name

    def available(self) -> Availability:
        return Availability.found(f"on device '{self._client.device.name}'")

    def info(self) -> ProbeInfo:
        return self._info

    def read(self, t_ns: int) -> list[Sample]:
        return wire.samples_from_wire(self._client.call("read_probe", name=self.name)["samples"])


class RemoteSampler:
    """The device's sampler: batches arrive on the runner's stream and go to `sink`."""

    def __init__(
        self, client: AgentClient, probes: Sequence[Probe], rate_hz: float, sink: SampleSink
    ) -> None:
        self._client = client
        self._names = [p.name for p in probes]
        self.rate_hz = rate_hz
        self._sink = sink
        self.samples: list[Sample] = []
        self._final: SamplerStats | None = None

    def _collect(self, batch: list[Sample]) -> None:
        self.samples.extend(batch)
        self._sink(batch)

    def start(self) -> None:
        self._client.sample_sink = self._collect
        self._client.call("sampler_start", probes=self._names, rate_hz=self.rate_hz)

    def stop(self) -> SamplerStats:
        reply = self._client.call("sampler_stop")
        self._client.sample_sink = None
        self._final = wire.stats_from_wire(reply["stats"])
        return self._final


class AgentRunner:
    """Runs engines and probes in melt's runner on a remote device reached by `device`."""

    def __init__(self, device: Device, python: str) -> None:
        self.device = device
        started = time.monotonic()
        self._runner: Deployed = ensure_runner(device)
        self._models: dict[str, Deployed] = {}
        self.client = AgentClient(device, python, self._runner.path)
        self.hello = self.client.hello
        self.start_s = time.monotonic() - started

    def framework_info(self, framework: str) -> tuple[str, str]:
        reply = self.client.call("framework", framework=framework)
        return reply["version"], reply["system_info"]

    def compute_devices(self, framework: str) -> tuple[ComputeDevice, ...]:
        reply = self.client.call("compute_devices", framework=framework)
        return tuple(ComputeDevice(**d) for d in reply["devices"])

    def load(self, framework: str, artifact: Artifact, settings: RunSettings) -> RemoteEngine:
        deployed = self._models.get(artifact.sha256)
        if deployed is None:
            deployed = ensure_model(self.device, artifact.path, artifact.sha256)
            self._models[artifact.sha256] = deployed
        reply = self.client.call(
            "load",
            timeout=LOAD_TIMEOUT_S,
            framework=framework,
            artifact={
                "path": deployed.path,
                "name": artifact.name,
                "sha256": artifact.sha256,
                "quant": artifact.quant,
            },
            settings=settings.model_dump(),
        )
        return RemoteEngine(self.client, wire.load_from_wire(reply["load"]))

    def engine_pid(self) -> int:
        return int(self.hello["pid"])

    def detect_probes(self, configured: Mapping[str, Any]) -> DetectedProbes:
        """Detected by the runner on the device; each configuration travels as its fields."""
        reply = self.client.call(
            "detect", configured={name: asdict(c) for name, c in configured.items()}
        )
        probes = tuple(RemoteProbe(self.client, wire.info_from_wire(i)) for i in reply["probes"])
        return DetectedProbes(probes, dict(reply["unavailable"]))

    def sampler(self, probes: Sequence[Probe], rate_hz: float, sink: SampleSink) -> RemoteSampler:
        return RemoteSampler(self.client, probes, rate_hz, sink)

    def run_settings(self) -> None:
        return None  # nothing on this device is changed for a run

    def interrupt(self) -> None:
        self.client.abort()

    def deploy_summary(self) -> dict[str, Any]:
        return {
            "runner": self._runner.path,
            "runner_bytes_pushed": self._runner.bytes_pushed,
            "models": {
                sha: {"path": d.path, "bytes_pushed": d.bytes_pushed}
                for sha, d in self._models.items()
            },
            "bytes_pushed": self._runner.bytes_pushed
            + sum(d.bytes_pushed for d in self._models.values()),
        }

    def close(self) -> None:
        self.client.close()
