"""The engine in melt's own process, on the local device (the controller itself)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from melt.compute import ComputeDevice
from melt.devices.local import LocalDevice
from melt.frameworks.base import FrameworkOptions
from melt.probes import detect
from melt.probes.base import Probe
from melt.probes.sampler import Sampler
from melt.runners.base import DetectedProbes, SampleSink
from melt.runners.server_host import DeviceServerHost

if TYPE_CHECKING:
    from melt.config import RunSettings
    from melt.frameworks.base import Engine
    from melt.models import Artifact


class InProcessRunner:
    def __init__(self, device: LocalDevice, options: FrameworkOptions | None = None) -> None:
        self.device = device
        # A framework that starts its own server (llama-server) starts it on this device.
        self._options = (options or FrameworkOptions()).on(DeviceServerHost(device))

    def framework_info(self, framework: str) -> tuple[str, str]:
        from melt.frameworks import get_framework

        fw = get_framework(framework, self._options)
        return fw.version(), fw.system_info()

    def compute_devices(self, framework: str) -> tuple[ComputeDevice, ...]:
        from melt.frameworks import get_framework
        from melt.frameworks.base import compute_devices

        return compute_devices(get_framework(framework, self._options))

    def load(self, framework: str, artifact: Artifact, settings: RunSettings) -> Engine:
        from melt.frameworks import get_framework

        return get_framework(framework, self._options).load(artifact, settings)

    def engine_pid(self) -> int:
        return os.getpid()

    def detect_probes(self, configured: Mapping[str, Any]) -> DetectedProbes:
        found = detect(self.device.path("/"), configured, runs_on=("device",))
        return DetectedProbes(found.probes, dict(found.unavailable))

    def sampler(self, probes: Sequence[Probe], rate_hz: float, sink: SampleSink) -> Sampler:
        return Sampler(probes, rate_hz=rate_hz, sink=sink)

    def run_settings(self) -> None:
        return None  # nothing on this device is changed for a run

    def interrupt(self) -> None:
        return None  # the engine ran in this thread, which is already unwinding

    def deploy_summary(self) -> dict[str, Any]:
        return {"runner": "in-process", "bytes_pushed": 0}

    def close(self) -> None:
        return None
