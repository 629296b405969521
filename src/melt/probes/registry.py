"""Probes register themselves by name; the sampler asks the registry what runs here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from melt.devices.fspath import SysPath
from melt.errors import MeltError
from melt.probes.base import Probe

ProbeFactory = Callable[[SysPath], Probe]

_PROBES: dict[str, ProbeFactory] = {}


def register_probe(name: str) -> Callable[[ProbeFactory], ProbeFactory]:
    """Class decorator: `@register_probe("thermal")` on a class built from a root path."""

    def add(factory: ProbeFactory) -> ProbeFactory:
        _PROBES[name] = factory
        return factory

    return add


def probe_names() -> list[str]:
    _load_builtin()
    return sorted(_PROBES)


def make_probe(name: str, root: SysPath | None = None) -> Probe:
    _load_builtin()
    try:
        return _PROBES[name](Path("/") if root is None else root)
    except KeyError:
        raise MeltError(
            f"unknown probe '{name}' (known probes: {', '.join(sorted(_PROBES))})"
        ) from None


@dataclass(frozen=True, slots=True)
class Detected:
    """The probes that can run under a root, and why each of the others cannot."""

    probes: tuple[Probe, ...]
    unavailable: dict[str, str]


def detect(root: SysPath | None = None) -> Detected:
    """Instantiate every registered probe and keep the available ones."""
    found: list[Probe] = []
    missing: dict[str, str] = {}
    for name in probe_names():
        probe = make_probe(name, Path("/") if root is None else root)
        availability = probe.available()
        if availability.ok:
            found.append(probe)
        else:
            missing[name] = availability.reason
    return Detected(tuple(found), missing)


def _load_builtin() -> None:
    """Import the probe modules so their decorators run (once)."""
    from melt.probes import (  # noqa: F401
        battery,
        cpu,
        cpufreq,
        ina3221,
        memory,
        monsoon,
        nvml,
        rapl,
        thermal,
    )
