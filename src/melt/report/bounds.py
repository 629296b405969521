"""The figures a run's bounds come from, read from what the run recorded (its device facts
and its compute record), never measured or guessed here.

Decode reads the weights once per token from the memory they live in: a discrete GPU's own
memory when every layer went there, the host's DRAM for a CPU run or a unified-memory SoC
(an iGPU, a phone's GPU), no single memory when the layers are split. Prefill is bounded by
the peak FLOP/s of the device that ran it, known only when measured or given as a device fact.

Device facts read here (top level of the run's facts, where `melt devices probe` keeps what it
measured and `melt devices fact` what the user stated, or under `extra`):
`memory_bandwidth` (DRAM, `{"bytes_per_s", "method"}`), `accelerator_memory_bandwidth` (a
discrete accelerator's own memory, `{"bytes_per_s", "method"}`), `peak_flops` (the CPU's) and
`accelerator_peak_flops` (`{"flops_per_s", "source"}`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from melt.compute import ComputeDevice, ComputeUse
from melt.devices.stated_facts import (
    ACCELERATOR_MEMORY_BANDWIDTH,
    ACCELERATOR_PEAK_FLOPS,
    CPU_PEAK_FLOPS,
)
from melt.report.backends import compute_of

DRAM_FACT = "memory_bandwidth"


@dataclass(frozen=True, slots=True)
class BandwidthFact:
    bytes_per_s: float | None
    says: str  # which memory, where the figure comes from, or why there is none


@dataclass(frozen=True, slots=True)
class PeakFact:
    flops_per_s: float | None
    says: str


def facts_of(run: Mapping[str, Any]) -> dict[str, Any]:
    env = run.get("environment") or {}
    return dict(env.get("facts") or {})


def _fact(run: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    facts = facts_of(run)
    found = facts.get(key) or (facts.get("extra") or {}).get(key)
    return found if isinstance(found, Mapping) else None


def _how_to_state(run: Mapping[str, Any], key: str, value: str) -> str:
    return f"state it with 'melt devices fact {run['device']} {key} {value} --source TEXT'"


def _dram(run: Mapping[str, Any], where: str) -> BandwidthFact:
    found = _fact(run, DRAM_FACT)
    if found:
        return BandwidthFact(
            float(found["bytes_per_s"]),
            f"{where}; device fact recorded with the run: {found['method']}",
        )
    device = run["device"]
    return BandwidthFact(
        None, f"{where}; memory bandwidth unknown; record it with 'melt devices probe {device}'"
    )


def _device_memory(run: Mapping[str, Any], accelerator: ComputeDevice) -> BandwidthFact:
    where = f"weights in {accelerator.label}'s own memory (discrete)"
    found = _fact(run, ACCELERATOR_MEMORY_BANDWIDTH)
    if found:
        how = found.get("method") or found.get("source") or "source not recorded"
        return BandwidthFact(float(found["bytes_per_s"]), f"{where}; device fact: {how}")
    return BandwidthFact(
        None,
        f"{where}; its bandwidth is not a recorded device fact, so no bound (DRAM's would be "
        f"the wrong memory; {_how_to_state(run, ACCELERATOR_MEMORY_BANDWIDTH, 'BYTES_PER_S')})",
    )


def _accelerated(run: Mapping[str, Any], use: ComputeUse, acc: ComputeDevice) -> BandwidthFact:
    if acc.unified_memory is None:
        return BandwidthFact(
            None, f"whether {acc.label} has memory of its own is not recorded: no bound"
        )
    if acc.unified_memory:
        return _dram(run, f"weights in DRAM, shared with {acc.label} (unified memory)")
    if use.layers_offloaded is None or use.layers_offloaded != use.layers_total:
        split = f"{use.layers_offloaded if use.layers_offloaded is not None else '?'}/"
        split += f"{use.layers_total if use.layers_total is not None else '?'}"
        return BandwidthFact(
            None,
            f"weights split between {acc.label}'s own memory and DRAM ({split} layers "
            "offloaded): no single memory-bandwidth bound",
        )
    return _device_memory(run, acc)


def weights_bandwidth(run: Mapping[str, Any]) -> BandwidthFact:
    """The bandwidth of the memory the run's weights lived in, saying which memory."""
    use = compute_of(run)
    if use is None:
        if (run.get("settings") or {}).get("imported"):
            return BandwidthFact(
                None,
                "compute backend not recorded by the import: where the weights lived is unknown",
            )
        return _dram(
            run,
            "weights in DRAM (compute backend not recorded: the run predates melt keeping "
            "one, when melt ran models on the CPU only)",
        )
    accelerator = use.accelerator
    if accelerator is None:
        return _dram(run, "weights in DRAM (CPU run)")
    return _accelerated(run, use, accelerator)


def peak_flops(run: Mapping[str, Any]) -> PeakFact:
    """The peak FLOP/s of the device that ran the prefill, from a recorded device fact."""
    use = compute_of(run)
    accelerator = None if use is None else use.accelerator
    key = CPU_PEAK_FLOPS if accelerator is None else ACCELERATOR_PEAK_FLOPS
    found = _fact(run, key)
    if not found:
        how = _how_to_state(run, key, "FLOP_PER_S")
        return PeakFact(None, f"no compute bound: peak FLOP/s unknown ({how})")
    what = "the CPU" if accelerator is None else accelerator.label
    how = found.get("source") or found.get("method") or "source not recorded"
    return PeakFact(float(found["flops_per_s"]), f"peak of {what}, device fact: {how}")
