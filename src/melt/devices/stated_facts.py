"""Facts about a device that no probe reads and the user states, from a datasheet or a
measurement of their own (`melt devices fact NAME KEY VALUE --source TEXT`): a discrete
accelerator's memory bandwidth, a peak FLOP/s. Kept beside what `melt devices probe`
measured (`probe_store`), so every later run on the device carries them in its facts and a
report's bounds (report/bounds.py) read them from the store. Never guessed: a fact nobody
stated is absent, and a report then says which bound it cannot draw.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from melt.errors import MeltError
from melt.values import finite

ACCELERATOR_MEMORY_BANDWIDTH = "accelerator_memory_bandwidth"
ACCELERATOR_PEAK_FLOPS = "accelerator_peak_flops"
CPU_PEAK_FLOPS = "peak_flops"


@dataclass(frozen=True, slots=True)
class StatedFact:
    key: str
    field: str  # the figure's key in the stored fact, its unit in the name
    unit: str
    what: str


STATED = {
    fact.key: fact
    for fact in (
        StatedFact(
            ACCELERATOR_MEMORY_BANDWIDTH,
            "bytes_per_s",
            "bytes/s",
            "a discrete accelerator's own memory bandwidth (decode's bound when every layer "
            "is offloaded there)",
        ),
        StatedFact(
            ACCELERATOR_PEAK_FLOPS,
            "flops_per_s",
            "FLOP/s",
            "the accelerator's peak FLOP/s at the precision it runs the model in",
        ),
        StatedFact(CPU_PEAK_FLOPS, "flops_per_s", "FLOP/s", "the CPU's peak FLOP/s"),
    )
}


def stated_fact(key: str, value: float, source: str) -> dict[str, Any]:
    """The stored form of a stated fact; an unknown key, a value that is not a positive
    finite number or a missing source is one line naming it."""
    fact = STATED.get(key)
    if fact is None:
        known = ", ".join(f"{k} ({f.unit})" for k, f in STATED.items())
        raise MeltError(f"'{key}' is not a device fact melt reads (facts: {known})")
    finite(value, f"{key} VALUE ({fact.unit})", above=0)
    if not source.strip():
        raise MeltError(
            "--source must say where the figure comes from (a datasheet, a measurement)"
        )
    return {fact.field: value, "source": source.strip()}


def state_fact(device: str, key: str, value: float, source: str) -> tuple[dict[str, Any], Path]:
    """Keep the fact for every later run on `device`; the stored form and where it is kept."""
    from melt.devices.probe_store import store_probe

    fact = stated_fact(key, value, source)
    return fact, store_probe(device, key, fact)
