"""Where a driver offers a value in more than one file (a newer kernel's file, an older one's),
the first that holds a value is the channel's source: `Source` is one such file with its unit,
scale and parser, `choose` picks per channel under a device folder, and the channels it could
not find say so ("unavailable: ..."), for the probe's facts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from melt.devices.fspath import SysPath
from melt.probes.base import ProbeReadError, read_optional_text
from melt.probes.channels import Channel


@dataclass(frozen=True, slots=True)
class Source:
    """A file (relative to the device folder) that gives a channel: value =
    parser(first line) / scale, in `unit`."""

    file: str
    unit: str
    scale: float = 1.0
    parser: str = "int"


def holds_value(path: SysPath) -> bool:
    """The file exists, reads, and is not empty (sysfs prints nothing when the driver has no
    value, e.g. kgsl's `temp` without a thermal zone)."""
    try:
        return bool(read_optional_text(path))
    except ProbeReadError:
        return False


@dataclass(frozen=True, slots=True)
class Chosen:
    """Per channel, the source found under `base`, and why each missing channel is."""

    base: SysPath
    sources: dict[str, Source]
    missing: dict[str, str]

    def channels(self, probe: str) -> tuple[Channel, ...]:
        return tuple(
            Channel(probe, name, str(self.base / s.file), s.unit, s.scale, s.parser)
            for name, s in self.sources.items()
        )

    def described(self) -> str:
        return "; ".join(f"{name}: {self.base}/{s.file}" for name, s in self.sources.items())


def choose(base: SysPath, options: Mapping[str, Sequence[Source]]) -> Chosen:
    """Per channel, the first of its sources under `base` that holds a value."""
    found: dict[str, Source] = {}
    missing: dict[str, str] = {}
    for channel, sources in options.items():
        source = next((s for s in sources if holds_value(base / s.file)), None)
        if source is not None:
            found[channel] = source
        else:
            files = " or ".join(s.file for s in sources) or "file for it"
            missing[channel] = f"unavailable: no readable {files} in {base}"
    return Chosen(base, found, missing)


def fact(path: SysPath) -> str | None:
    """A file's value for a probe's facts: None when absent, unreadable or empty."""
    try:
        return read_optional_text(path) or None
    except ProbeReadError:
        return None
