"""One reading of one signal on a device, as probes produce them (DESIGN.md: Sample)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Provenance(StrEnum):
    """Where a number comes from: a sensor read it, or a model estimated it."""

    MEASURED = "measured"
    ESTIMATED = "estimated"


@dataclass(frozen=True, slots=True)
class Sample:
    """A value of `channel` read by `probe` at `t_ns` on the device's monotonic clock."""

    t_ns: int
    probe: str
    channel: str
    value: float
    unit: str
    provenance: Provenance = Provenance.MEASURED
