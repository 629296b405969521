"""Probes register themselves by name with their policy; the monitor asks the registry what
runs here, and the policy (role, power rank, where it runs) decides what it does with it.

A probe class is built from a root path, plus its configuration when the user gave one (a
Monsoon's settings, the estimated power model's parameters): `factory(root)` or
`factory(root, config)`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from melt.devices.fspath import SysPath
from melt.errors import MeltError
from melt.probes.base import Probe, ProbePolicy

ProbeFactory = Callable[..., Probe]

_PROBES: dict[str, ProbeFactory] = {}
_POLICIES: dict[str, ProbePolicy] = {}


def register_probe(name: str) -> Callable[[ProbeFactory], ProbeFactory]:
    """Class decorator: `@register_probe("thermal")` on a class built from a root path (and a
    configuration, for a probe the user configures) that declares its `policy`."""

    def add(factory: ProbeFactory) -> ProbeFactory:
        policy = getattr(factory, "policy", None)
        if not isinstance(policy, ProbePolicy):
            raise TypeError(f"probe '{name}' declares no `policy = ProbePolicy(...)`")
        _PROBES[name] = factory
        _POLICIES[name] = policy
        return factory

    return add


def probe_names() -> list[str]:
    _load_builtin()
    return sorted(_PROBES)


def registered() -> dict[str, ProbeFactory]:
    """Every registered probe's factory (its class), by name."""
    _load_builtin()
    return dict(_PROBES)


def policy_of(name: str) -> ProbePolicy:
    """The registered policy of a probe."""
    _load_builtin()
    return _POLICIES[name]


def make_probe(name: str, root: SysPath | None = None, config: Any = None) -> Probe:
    _load_builtin()
    try:
        factory = _PROBES[name]
    except KeyError:
        raise MeltError(
            f"unknown probe '{name}' (known probes: {', '.join(sorted(_PROBES))})"
        ) from None
    where = Path("/") if root is None else root
    return factory(where) if config is None else factory(where, config)


@dataclass(frozen=True, slots=True)
class Detected:
    """The probes that can run under a root, and why each of the others cannot."""

    probes: tuple[Probe, ...]
    unavailable: dict[str, str]


Accept = Callable[[Probe], str | None]


def detect(
    root: SysPath | None = None,
    configured: Mapping[str, Any] | None = None,
    runs_on: Collection[str] = ("device", "controller"),
    accept: Accept | None = None,
) -> Detected:
    """Instantiate every registered probe that runs on one of `runs_on` and keep the
    available ones. An opt-in probe is made only when `configured` names it (with its
    configuration); `accept` may refuse a probe before it is asked whether it is available
    (it returns why, e.g. the phone's sampler reads channel plans only)."""
    chosen = configured or {}
    found: list[Probe] = []
    missing: dict[str, str] = {}
    for name in probe_names():
        policy = _POLICIES[name]
        if policy.runs_on not in runs_on or (policy.opt_in and name not in chosen):
            continue
        probe = make_probe(name, Path("/") if root is None else root, chosen.get(name))
        refused = None if accept is None else accept(probe)
        if refused is not None:
            missing[name] = refused
            continue
        availability = probe.available()
        if availability.ok:
            found.append(probe)
        else:
            missing[name] = availability.reason
    return Detected(tuple(found), missing)


def _load_builtin() -> None:
    """Import the probe modules so their decorators run (once)."""
    from melt.probes import (  # noqa: F401
        amdgpu,
        battery,
        cpu,
        cpu_power_model,
        cpufreq,
        devfreq,
        ina3221,
        intel_gpu,
        jetson_gpu,
        kgsl,
        mali,
        memory,
        monsoon,
        nvml,
        rapl,
        thermal,
    )
