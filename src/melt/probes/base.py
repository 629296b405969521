"""What every probe is: a named reader of one kind of signal under a filesystem root.

Probes read the kernel's files (sysfs, procfs) below a configurable `root` so the same code
reads a real device (`/`) and a fixture tree laid out like one. A probe says whether it can
run here (and why not), what it reads (unit, rate, resolution, provenance) and, each time it
is read, returns `Sample`s stamped with the caller's monotonic time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from melt.devices.fspath import SysPath
from melt.traces.sample import Provenance, Sample


class ProbeReadError(Exception):
    """A sensor file could not be read or parsed; the message names the file."""


@dataclass(frozen=True, slots=True)
class Availability:
    """Whether a probe can run on this device; `reason` says why not (or what it found)."""

    ok: bool
    reason: str

    @classmethod
    def found(cls, what: str) -> Availability:
        return cls(True, what)

    @classmethod
    def absent(cls, why: str) -> Availability:
        return cls(False, why)


RunsOn = Literal["device", "controller"]


@dataclass(frozen=True, slots=True)
class ProbePolicy:
    """What the monitor does with a probe, declared once where the probe is registered.

    `role` is the kind of signal (`power`, `temperature`, `frequency`, `utilisation`,
    `memory`); among measured `power` probes the lowest `power_rank` is the run's power
    source (an external monitor the user configured ranks first: on a device it powers, the
    device's own sensors see the monitor's supply). `runs_on` says where the probe reads:
    on the device (its files, sampled there) or on the controller (an instrument on the
    controller's USB). `current_channel` names a discharge-current channel (a battery's), for
    charge figures. An `opt_in` probe is made only when the user configured it (its
    parameters are the user's, e.g. the estimated CPU power model)."""

    role: str
    power_rank: int | None = None
    runs_on: RunsOn = "device"
    current_channel: str | None = None
    opt_in: bool = False

    def info_fields(self) -> dict[str, Any]:
        """The part of a `ProbeInfo` this policy fills."""
        return {
            "role": self.role,
            "power_rank": self.power_rank,
            "runs_on": self.runs_on,
            "current_channel": self.current_channel,
        }


@dataclass(frozen=True, slots=True)
class ProbeInfo:
    """What a probe reads, declared before it runs.

    `max_rate_hz` is how often the underlying sensor updates at best (None when the kernel
    computes the value on read); `resolution` is the smallest step of the value, with its unit.
    """

    name: str
    signal: str
    unit: str
    provenance: Provenance
    source: str
    resolution: str
    max_rate_hz: float | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    role: str = "signal"
    power_rank: int | None = None
    runs_on: RunsOn = "device"
    current_channel: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "signal": self.signal,
            "unit": self.unit,
            "provenance": str(self.provenance),
            "source": self.source,
            "resolution": self.resolution,
            "max_rate_hz": self.max_rate_hz,
            "facts": self.facts,
            "role": self.role,
            "power_rank": self.power_rank,
            "runs_on": self.runs_on,
            "current_channel": self.current_channel,
        }


class Probe(Protocol):
    """A reader of one signal. `read` is called from the sampler thread only."""

    name: str

    def available(self) -> Availability: ...

    def info(self) -> ProbeInfo: ...

    def read(self, t_ns: int) -> list[Sample]: ...


def read_text(path: SysPath) -> str:
    """The stripped content of a sensor file, or `ProbeReadError` naming it."""
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ProbeReadError(f"cannot read {path}: {exc}") from None


def read_int(path: SysPath) -> int:
    """An integer sensor file (sysfs values are decimal integers in fixed units)."""
    text = read_text(path)
    try:
        return int(text)
    except ValueError:
        raise ProbeReadError(f"{path} holds '{text[:40]}', not an integer") from None


def read_optional_text(path: SysPath) -> str | None:
    """A file that some devices lack (e.g. a battery without `temp`)."""
    return read_text(path) if path.exists() else None
