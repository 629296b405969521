"""Stored runs with the compute record an engine writes (`melt.compute.ComputeUse.record`),
written through the real Store API on top of tests/report/stores.py's hand-made runs: a CPU
run, a discrete GPU with every layer offloaded, a unified-memory iGPU, a partial offload,
and a run stored before melt kept the record (NULL)."""

from __future__ import annotations

from typing import Any

from melt.compute import CPU, ComputeDevice, ComputeUse
from melt.store import Store

CUDA0 = ComputeDevice(
    kind="gpu",
    api="CUDA",
    name="CUDA0",
    description="NVIDIA H100 80GB HBM3",
    memory_total_bytes=80 * 2**30,
    unified_memory=False,
)
VULKAN0 = ComputeDevice(
    kind="igpu",
    api="Vulkan",
    name="Vulkan0",
    description="Mali-G715 (Panfrost)",
    unified_memory=True,
)


def cpu_use() -> ComputeUse:
    return ComputeUse(devices=(CPU,), available=(CPU, CUDA0))


def gpu_use(device: ComputeDevice = CUDA0, offloaded: int = 31, total: int = 31) -> ComputeUse:
    return ComputeUse(
        devices=(device, CPU),
        available=(CPU, device),
        layers_offloaded=offloaded,
        layers_total=total,
        kv_on_device=True,
        evidence=(f"load_tensors: offloaded {offloaded}/{total} layers to GPU",),
        source="llama.cpp load log",
    )


def set_compute(
    store: Store, run_id: int, use: ComputeUse | None, gpu_layers: int | None = None
) -> None:
    """The run's compute record and, when given, the `gpu_layers` it asked for."""
    run = store.run(run_id)
    settings: dict[str, Any] = dict(run["settings"] or {})
    if gpu_layers is not None:
        settings["gpu_layers"] = gpu_layers
    store.update_run(run_id, compute=None if use is None else use.record(), settings=settings)
