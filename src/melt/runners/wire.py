"""The JSON form of what crosses between the controller and a runner on a device: turn
traces, load traces, samples, probe infos and sampler records.

Standard library only (both ends import it). Every value keeps its unit and its clock: times
are the device's monotonic ns, exactly as the engine stamped them.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from melt.compute import ComputeUse
from melt.probes.base import ProbeInfo
from melt.probes.sampler import SamplerStats
from melt.traces.sample import Provenance, Sample
from melt.traces.trace import EngineTimers, LoadTrace, TurnTrace


def trace_to_wire(trace: TurnTrace) -> dict[str, Any]:
    out = dataclasses.asdict(trace)
    out["token_ns"] = list(trace.token_ns)
    return out


def trace_from_wire(data: dict[str, Any]) -> TurnTrace:
    fields = dict(data)
    fields["token_ns"] = tuple(fields["token_ns"])
    engine = fields.get("engine")
    fields["engine"] = None if engine is None else EngineTimers(**engine)
    return TurnTrace(**fields)


def load_to_wire(load: LoadTrace) -> dict[str, Any]:
    out = dataclasses.asdict(load)
    out["compute"] = None if load.compute is None else load.compute.record()
    return out


def load_from_wire(data: dict[str, Any]) -> LoadTrace:
    return LoadTrace(**{**data, "compute": ComputeUse.from_record(data.get("compute"))})


def samples_to_wire(samples: list[Sample]) -> list[list[Any]]:
    """Compact rows: [t_ns, probe, channel, value, unit, provenance]."""
    return [[s.t_ns, s.probe, s.channel, s.value, s.unit, str(s.provenance)] for s in samples]


def samples_from_wire(rows: list[list[Any]]) -> list[Sample]:
    return [Sample(int(t), p, c, float(v), u, Provenance(pv)) for t, p, c, v, u, pv in rows]


def info_to_wire(info: ProbeInfo) -> dict[str, Any]:
    return info.as_dict()


def info_from_wire(data: dict[str, Any]) -> ProbeInfo:
    fields = dict(data)
    fields["provenance"] = Provenance(fields["provenance"])
    return ProbeInfo(**fields)


def stats_to_wire(stats: SamplerStats) -> dict[str, Any]:
    return {f.name: getattr(stats, f.name) for f in dataclasses.fields(stats)}


def stats_from_wire(data: dict[str, Any]) -> SamplerStats:
    names = {f.name for f in dataclasses.fields(SamplerStats)}
    return SamplerStats(**{k: v for k, v in data.items() if k in names})


class Namespace:
    """Read-only attribute access over a JSON document (nested documents too).

    The controller validates settings with pydantic; the device has no pydantic, so the
    runner hands the engine the validated values as attributes, with `model_dump()` giving
    the document back.
    """

    def __init__(self, data: dict[str, Any]) -> None:
        object.__setattr__(self, "_data", dict(data))

    def __getattr__(self, name: str) -> Any:
        try:
            value = self._data[name]
        except KeyError:
            raise AttributeError(name) from None
        return Namespace(value) if isinstance(value, dict) else value

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("settings are read-only")

    def model_dump(self) -> dict[str, Any]:
        return dict(self._data)
