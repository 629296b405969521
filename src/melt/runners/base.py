"""What the session needs from wherever the engine runs (DESIGN.md: Devices and runners).

A `Runner` loads engines, names the process whose /proc figures are the run's, finds the
probes that can run on the device and gives a sampler for them. `InProcessRunner` does it
all in melt's own process on the local device; `AgentRunner` does it in melt's runner on a
remote device. The session uses either through this protocol only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from melt.compute import ComputeDevice
from melt.devices.base import Device
from melt.probes.base import Probe
from melt.probes.sampler import SamplerStats
from melt.traces.sample import Sample

if TYPE_CHECKING:
    from melt.config import RunSettings
    from melt.frameworks.base import Engine
    from melt.models import Artifact


@dataclass(frozen=True, slots=True)
class DetectedProbes:
    probes: tuple[Probe, ...]
    unavailable: dict[str, str]


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How runs on a device are framed (not engine settings): the user's commands that cut
    and restore the phone's USB power around each measured run."""

    usb_power_off_cmd: str | None = None
    usb_power_on_cmd: str | None = None


class DeviceRunGuard(Protocol):
    """Device settings held around one run and restored after it (also after a failure)."""

    def __enter__(self) -> Any: ...

    def __exit__(self, *exc: object) -> None: ...

    def record(self) -> dict[str, Any]:
        """What changed, whether it was restored, and notes for the results."""
        ...

    @property
    def usb_power_note(self) -> str | None: ...


class SamplerLike(Protocol):
    samples: list[Sample]

    def start(self) -> None: ...

    def stop(self) -> SamplerStats: ...


SampleSink = Callable[[list[Sample]], None]


class Runner(Protocol):
    device: Device

    def framework_info(self, framework: str) -> tuple[str, str]:
        """(version, system info) of a framework as the device has it."""
        ...

    def load(self, framework: str, artifact: Artifact, settings: RunSettings) -> Engine: ...

    def compute_devices(self, framework: str) -> tuple[ComputeDevice, ...]:
        """The compute devices the framework's build can use on the device."""
        ...

    def engine_pid(self) -> int | None:
        """The device pid of the process running the engine (for VmHWM and CPU time); None
        when there is none yet (a server started by `load` gives its pid as `engine.pid`)."""
        ...

    def detect_probes(self, configured: Mapping[str, Any]) -> DetectedProbes:
        """The registered probes that run on the device (`ProbePolicy.runs_on`), with the
        configuration of each probe the user configured, by name."""
        ...

    def sampler(self, probes: Sequence[Probe], rate_hz: float, sink: SampleSink) -> SamplerLike: ...

    def run_settings(self) -> DeviceRunGuard | None:
        """The device settings to hold around each run (a phone's screen), or None."""
        ...

    def interrupt(self) -> None:
        """Stop what the engine is doing now (Ctrl-C, a failure): the run is ending."""
        ...

    def deploy_summary(self) -> dict[str, Any]:
        """What was copied to the device for this bench (bytes per file kind)."""
        ...

    def close(self) -> None: ...
