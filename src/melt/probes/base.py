"""What every probe is: a named reader of one kind of signal under a filesystem root.

Probes read the kernel's files (sysfs, procfs) below a configurable `root` so the same code
reads a real device (`/`) and a fixture tree laid out like one. A probe says whether it can
run here (and why not), what it reads (unit, rate, resolution, provenance) and, each time it
is read, returns `Sample`s stamped with the caller's monotonic time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

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
