"""Server frameworks on any device: the engine on the controller, the server on the device.

`--framework llama-server` (and `openai-http`) drive a server over HTTP: the client, and so
the per-token arrival times, are on the controller; the server runs on the device (started
there by the framework, reached through the device's port forward), and its `/proc/<pid>`
there gives the run's memory and CPU time. The probes come from whatever reads the device:
this process for the local device, melt's runner (probes only) over SSH, the on-phone sh
sampler over ADB; each transport registers its own (`register_probe_side`).

One clock for a run: the device's. The probes stamp their samples there, and the session's
idle window and sustained deadline read `device.now_ns()`; the engine's arrival times are
the controller's, so `DeviceClockEngine` maps each trace onto the device's clock with the
offset measured when the engine was loaded (its uncertainty is recorded with the load).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from melt.compute import ComputeDevice
from melt.devices.base import ClockOffset, Device, DeviceError
from melt.frameworks.base import FrameworkOptions
from melt.probes.base import Probe
from melt.runners.base import (
    DetectedProbes,
    DeviceRunGuard,
    RunOptions,
    SamplerLike,
    SampleSink,
)
from melt.runners.server_host import DeviceServerHost

if TYPE_CHECKING:
    from melt.config import RunSettings
    from melt.frameworks.base import Engine, Framework
    from melt.models import Artifact
    from melt.traces import TurnTrace
    from melt.workloads import Conversation


class ProbeSide(Protocol):
    """The part of a runner that finds and samples the device's probes."""

    def detect_probes(self, configured: Mapping[str, Any]) -> DetectedProbes: ...

    def sampler(self, probes: Sequence[Probe], rate_hz: float, sink: SampleSink) -> SamplerLike: ...

    def close(self) -> None: ...


ProbeSideFactory = Callable[[Device], ProbeSide]
_PROBE_SIDES: dict[str, ProbeSideFactory] = {}


def register_probe_side(transport: str) -> Callable[[ProbeSideFactory], ProbeSideFactory]:
    def add(factory: ProbeSideFactory) -> ProbeSideFactory:
        _PROBE_SIDES[transport] = factory
        return factory

    return add


@register_probe_side("local")
def _local_probes(device: Device) -> ProbeSide:
    from melt.devices.local import LocalDevice
    from melt.runners.inprocess import InProcessRunner

    assert isinstance(device, LocalDevice)
    return InProcessRunner(device)


@register_probe_side("ssh")
def _ssh_probes(device: Device) -> ProbeSide:
    from melt.runners.remote import AgentRunner

    python = getattr(device, "python", None)
    if python is None:
        raise DeviceError(f"device '{device.name}' has no Python for melt's probe runner")
    return AgentRunner(device, python)


class PhoneProbeSide:
    """The on-phone sampler (runners/android_probes.py)."""

    def __init__(self, device: Device) -> None:
        from melt.devices.adb import AdbDevice

        assert isinstance(device, AdbDevice)
        self.device = device

    def detect_probes(self, configured: Mapping[str, Any]) -> DetectedProbes:
        from melt.runners.android_probes import detect_phone_probes

        return detect_phone_probes(self.device, configured)

    def sampler(self, probes: Sequence[Probe], rate_hz: float, sink: SampleSink) -> SamplerLike:
        from melt.runners.android_probes import PhoneSampler

        return PhoneSampler(self.device, probes, rate_hz, sink)

    def close(self) -> None:
        return None


register_probe_side("adb")(PhoneProbeSide)


def on_device_clock(trace: TurnTrace, offset: ClockOffset) -> TurnTrace:
    """A trace of controller times as the same instants on the device's clock."""

    def at(t_ns: int | None) -> int | None:
        return None if t_ns is None else offset.to_device_ns(t_ns)

    return replace(
        trace,
        submit_ns=offset.to_device_ns(trace.submit_ns),
        prefill_start_ns=at(trace.prefill_start_ns),
        prefill_done_ns=at(trace.prefill_done_ns),
        token_ns=tuple(offset.to_device_ns(t) for t in trace.token_ns),
        end_ns=offset.to_device_ns(trace.end_ns),
    )


class DeviceClockEngine:
    """A server framework's engine whose traces are on the device's clock (see the module
    docstring); the rest is the engine's own."""

    def __init__(self, engine: Engine, offset: ClockOffset) -> None:
        self.engine = engine
        self.offset = offset
        settings = dict(engine.load.engine_settings or {})
        settings["trace_clock"] = {
            "clock": "the device's",
            "source": "arrival times on the controller (time.monotonic_ns) + the offset",
            **offset.as_dict(),
        }
        self.load = replace(engine.load, engine_settings=settings)

    @property
    def pid(self) -> int | None:
        return getattr(self.engine, "pid", None)

    def chat_prompt_tokens(self, user_turns: Sequence[str]) -> int | None:
        return self.engine.chat_prompt_tokens(user_turns)

    def converse(
        self, conversation: Conversation, conversation_index: int, *, warmup: bool = False
    ) -> Iterator[TurnTrace]:
        for trace in self.engine.converse(conversation, conversation_index, warmup=warmup):
            yield on_device_clock(trace, self.offset)

    def close(self) -> None:
        self.engine.close()


class ControllerRunner:
    """A server framework's engine in this process, its server and probes on `device`."""

    def __init__(
        self,
        device: Device,
        options: FrameworkOptions | None = None,
        run_options: RunOptions | None = None,
    ) -> None:
        factory = _PROBE_SIDES.get(device.transport)
        if factory is None:
            raise DeviceError(f"device '{device.name}': no probes for transport {device.transport}")
        self.device = device
        self._options = (options or FrameworkOptions()).on(DeviceServerHost(device))
        self._run_options = run_options or RunOptions()
        self._probes = factory(device)
        self._engine: Engine | None = None
        self._frameworks: dict[str, Framework] = {}

    def _framework(self, name: str) -> Framework:
        """One instance per framework, so the server binary is put on the device once."""
        if name not in self._frameworks:
            from melt.frameworks import get_framework

            self._frameworks[name] = get_framework(name, self._options)
        return self._frameworks[name]

    def framework_info(self, framework: str) -> tuple[str, str]:
        fw = self._framework(framework)
        return fw.version(), fw.system_info()

    def compute_devices(self, framework: str) -> tuple[ComputeDevice, ...]:
        from melt.frameworks.base import compute_devices

        return compute_devices(self._framework(framework))

    def load(self, framework: str, artifact: Artifact, settings: RunSettings) -> Engine:
        engine = self._framework(framework).load(artifact, settings)
        try:
            offset = self.device.clock_offset()
        except BaseException:
            engine.close()
            raise
        self._engine = DeviceClockEngine(engine, offset)
        return self._engine

    def engine_pid(self) -> int | None:
        """The server's pid on the device once loaded; None before (or for a server melt did
        not start: its process is not melt's to read)."""
        pid = getattr(self._engine, "pid", None)
        return None if pid is None else int(pid)

    def detect_probes(self, configured: Mapping[str, Any]) -> DetectedProbes:
        return self._probes.detect_probes(configured)

    def sampler(self, probes: Sequence[Probe], rate_hz: float, sink: SampleSink) -> SamplerLike:
        return self._probes.sampler(probes, rate_hz, sink)

    def run_settings(self) -> DeviceRunGuard | None:
        """The phone's screen and brightness held around each run (None off a phone)."""
        held = getattr(self.device, "run_guard", None)  # a device's optional capability
        if held is None:
            return None
        return held(self._run_options.usb_power_off_cmd, self._run_options.usb_power_on_cmd)

    def interrupt(self) -> None:
        return None  # the engine's stream is read in this thread, which is unwinding

    def deploy_summary(self) -> dict[str, Any]:
        pushed: dict[str, Any] = {"files": {}, "bytes_pushed": 0}
        for fw in self._frameworks.values():
            summary = getattr(fw, "deploy_summary", None)
            if summary is not None:
                part = summary()
                pushed["files"].update(part["files"])
                pushed["bytes_pushed"] += part["bytes_pushed"]
                if part.get("runtime"):
                    pushed["runtime"] = part["runtime"]
        return {"runner": "controller (engine here, server on the device)", **pushed}

    def close(self) -> None:
        self._probes.close()
