"""Energy of one sweep cell: the per-turn figures of all its runs pooled, per power source.

The runs' energy comes as the store keeps it: each run's energy document (`EnergyReport.
as_dict()`, in the run's summary), so the sweep table of stored runs and `melt bench --json`
pool the same figures the same way. One `melt bench` picks one power source for all its
runs, but the pooling still keys the figures by source and by whether an idle baseline was
subtracted: a measured and an estimated figure, or a net and a raw one, never end up in one
aggregate. J per generated token is the decode energy (idle baseline subtracted when one was
measured) over generated − 1 tokens; decode power is the raw average power over the decode
window.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from melt.metrics.stats import Aggregate, aggregate
from melt.traces.sample import Provenance


@dataclass(frozen=True, slots=True)
class EnergySource:
    """A power source as a run's energy document names it."""

    description: str
    probe: str
    provenance: Provenance

    @property
    def estimated(self) -> bool:
        return self.provenance is Provenance.ESTIMATED


@dataclass(frozen=True, slots=True)
class CellEnergy:
    source: EnergySource
    runs: int
    baseline_subtracted: bool
    j_per_generated_token: Aggregate
    decode_power_w: Aggregate

    @property
    def key(self) -> tuple[EnergySource, bool]:
        """What may share a column: one source, with or without an idle baseline."""
        return (self.source, self.baseline_subtracted)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source.description,
            "probe": self.source.probe,
            "provenance": str(self.source.provenance),
            "integration": "trapezoid",
            "runs": self.runs,
            "idle_baseline_subtracted": self.baseline_subtracted,
            "j_per_generated_token": self.j_per_generated_token.as_dict(),
            "decode_avg_power_w": self.decode_power_w.as_dict(),
        }


def _source(energy: Mapping[str, Any]) -> EnergySource:
    return EnergySource(
        str(energy["source"]), str(energy["probe"]), Provenance(str(energy["provenance"]))
    )


def _decode_powers(turns: Sequence[Mapping[str, Any]]) -> list[float]:
    return [t["decode"]["avg_power_w"] for t in turns if t.get("decode") is not None]


def cell_energy(documents: Sequence[Mapping[str, Any] | None]) -> tuple[CellEnergy, ...]:
    """One pooled figure per power source (and baseline use) among the runs' energy
    documents, in order of first appearance; runs without energy are left out."""
    groups: dict[tuple[EnergySource, bool], list[Mapping[str, Any]]] = {}
    for energy in documents:
        if energy:
            key = (_source(energy), energy.get("idle_baseline_w") is not None)
            groups.setdefault(key, []).append(energy)
    return tuple(
        CellEnergy(
            source=source,
            runs=len(group),
            baseline_subtracted=baseline,
            j_per_generated_token=aggregate(
                [t["j_per_generated_token"] for e in group for t in e["turns"]]
            ),
            decode_power_w=aggregate([w for e in group for w in _decode_powers(e["turns"])]),
        )
        for (source, baseline), group in groups.items()
    )
