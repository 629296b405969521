"""Which compute devices a framework's build can use on a device, and which ones a run used.

A run's compute backend is part of its identity (llama-bench keys its rows on `backends`,
`n_gpu_layers` and `gpu_info`), and it is recorded from what the engine itself reports (its
load log, its backend registry, the execution provider that ran), never from what was asked:
a Vulkan build asked for `-ngl 99` that finds no Vulkan device runs on the CPU while the flag
still says 99. `refuse_no_accelerator` (before loading) and `refuse_fallback` (after, on the
engine's report) refuse such a run before anything is measured.

Standard library only: a device's runner (no pydantic) reports these too. Stored as the run's
`compute` record (`ComputeUse.record`), read back with `ComputeUse.from_record`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from melt.errors import MeltError

# A compute device's kind, as ggml's backend registry types them (ggml_backend_dev_type:
# CPU, GPU, IGPU, ACCEL) plus "npu" for a vendor's neural processor (QNN, an NNAPI driver).
KINDS = ("cpu", "gpu", "igpu", "accel", "npu")
# llama.cpp's `-ngl all`: every layer, whatever the model's count.
GPU_LAYERS_ALL = "all"


@dataclass(frozen=True, slots=True)
class ComputeDevice:
    """One compute device as the framework's backend names it.

    `name` is the backend's own device name (`Vulkan0`, `CUDA0`, `CPU`), `api` the backend
    (`CPU`, `Vulkan`, `CUDA`, `Metal`, `OpenCL`, `SYCL`, `QNN`, an ORT execution provider
    such as `CUDAExecutionProvider`), `description` the device and driver as the backend
    reports them (`llvmpipe (LLVM 15.0.7, 256 bits)`), memory in bytes where the backend
    reports it (None: not reported). `unified_memory`: True when the device's memory is the
    host's DRAM (an iGPU, a phone's GPU, lavapipe), False for a discrete GPU's own memory,
    None when unknown.
    """

    kind: str
    api: str
    name: str
    description: str = ""
    memory_total_bytes: int | None = None
    memory_free_bytes: int | None = None
    unified_memory: bool | None = None

    @property
    def label(self) -> str:
        return f"{self.name} {self.description}".strip() if self.description else self.name


CPU = ComputeDevice(kind="cpu", api="CPU", name="CPU")


@dataclass(frozen=True, slots=True)
class ComputeUse:
    """Where a run's model ran, from the engine's own evidence.

    `devices` are the compute devices that held model layers or the KV cache (the CPU
    included when it held any), `available` every device the build could use there.
    `layers_offloaded`/`layers_total` are the engine's own count (llama.cpp's load log:
    "offloaded 31/31 layers to GPU"), None where the engine does not say; `kv_on_device`
    whether the KV cache lives on the accelerator. `provider` is the ONNX Runtime execution
    provider that ran. `evidence` keeps the engine's lines verbatim and `source` names where
    they came from.
    """

    devices: tuple[ComputeDevice, ...] = (CPU,)
    available: tuple[ComputeDevice, ...] = ()
    layers_offloaded: int | None = None
    layers_total: int | None = None
    kv_on_device: bool | None = None
    provider: str | None = None
    evidence: tuple[str, ...] = ()
    source: str = ""

    @property
    def accelerator(self) -> ComputeDevice | None:
        """The first non-CPU device the run used, or None for a CPU run."""
        return next((d for d in self.devices if d.kind != "cpu"), None)

    @property
    def backend(self) -> str:
        """The compute API the run's model ran on: the accelerator's, or `CPU`."""
        accelerator = self.accelerator
        return accelerator.api if accelerator is not None else "CPU"

    @property
    def label(self) -> str:
        """One line for tables: `Vulkan0 llvmpipe (...) · 31/31 layers`, or `CPU`."""
        accelerator = self.accelerator
        if accelerator is None:
            return "CPU" if self.provider is None else f"CPU ({self.provider})"
        layers = (
            f" · {self.layers_offloaded}/{self.layers_total} layers"
            if self.layers_offloaded is not None and self.layers_total is not None
            else ""
        )
        kv = " · KV on CPU" if self.kv_on_device is False else ""
        return f"{accelerator.label}{layers}{kv}"

    def record(self) -> dict[str, Any]:
        """The run's stored `compute` record (JSON), with `backend` and `label` written out
        so a reader of the store needs no melt to understand it."""
        data = asdict(self)
        data["devices"] = [asdict(d) for d in self.devices]
        data["available"] = [asdict(d) for d in self.available]
        data["evidence"] = list(self.evidence)
        return {**data, "backend": self.backend, "label": self.label}

    @classmethod
    def from_record(cls, record: dict[str, Any] | None) -> ComputeUse | None:
        if not record:
            return None

        known = {f.name for f in fields(ComputeDevice)}

        def devices(key: str) -> tuple[ComputeDevice, ...]:
            # a newer melt's record may carry more about a device: read what this one knows
            return tuple(
                ComputeDevice(**{k: v for k, v in d.items() if k in known})
                for d in record.get(key) or ()
            )

        return cls(
            devices=devices("devices"),
            available=devices("available"),
            layers_offloaded=record.get("layers_offloaded"),
            layers_total=record.get("layers_total"),
            kv_on_device=record.get("kv_on_device"),
            provider=record.get("provider"),
            evidence=tuple(record.get("evidence") or ()),
            source=record.get("source", ""),
        )


@dataclass(frozen=True, slots=True)
class ComputeAsk:
    """What a run asked of the accelerator, to check against what the engine reports.

    `gpu_layers` is llama.cpp's `-ngl` (0: none, `"all"`: every layer), `accel_device` the
    backend device name asked for (`--accel-device Vulkan0`), `kv_offload` whether the KV
    cache may go to the accelerator."""

    gpu_layers: int | str = 0
    accel_device: str | None = None
    kv_offload: bool = True

    @classmethod
    def of(cls, knobs: Any) -> ComputeAsk:
        """From llama.cpp's knobs (a settings model, or the runner's plain attributes)."""
        return cls(
            gpu_layers=getattr(knobs, "gpu_layers", 0),
            accel_device=getattr(knobs, "accel_device", None),
            kv_offload=getattr(knobs, "kv_offload", True),
        )

    @property
    def offload(self) -> bool:
        return self.gpu_layers not in (0, None)

    @property
    def flag(self) -> str:
        return f"--gpu-layers {self.gpu_layers}"


def _have(available: tuple[ComputeDevice, ...], backends: tuple[str, ...] = ()) -> str:
    devices = ", ".join(d.label for d in available) or "none listed"
    built = f"backends built in: {', '.join(backends)}; " if backends else ""
    return f"{built}devices: {devices}"


def refuse_no_accelerator(
    ask: ComputeAsk, available: tuple[ComputeDevice, ...], backends: tuple[str, ...] = ()
) -> None:
    """Before loading: offload asked of a build with no accelerator device (no GPU backend,
    or one that sees no device), or of a device it does not have, is a one-line error naming
    what the build has."""
    if not ask.offload:
        return
    accelerators = [d for d in available if d.kind != "cpu"]
    if not accelerators:
        raise MeltError(
            f"{ask.flag} asked for offload, but this llama.cpp build has no accelerator "
            f"device here ({_have(available, backends)}); drop --gpu-layers, or use a build "
            "with a GPU backend and a visible device"
        )
    if ask.accel_device and ask.accel_device not in {d.name for d in accelerators}:
        raise MeltError(
            f"--accel-device {ask.accel_device} is not a device of this llama.cpp build "
            f"({_have(available, backends)}); pass one of "
            f"{', '.join(d.name for d in accelerators)}"
        )


def refuse_fallback(ask: ComputeAsk, used: ComputeUse) -> None:
    """After loading: a one-line error when a run asked for offload and the engine reports
    none: a CPU run recorded as a GPU one is the wrong record melt must never make."""
    if not ask.offload:
        return
    if used.accelerator is None or not used.layers_offloaded:
        told = [line for line in used.evidence if "offloaded" in line] or list(used.evidence)
        said = f" (the engine said: {told[-1]})" if told else ""
        raise MeltError(
            f"{ask.flag} asked for offload, but the engine ran on the CPU{said}; "
            f"{_have(used.available)} (drop --gpu-layers, or use a build with a GPU backend "
            "and a visible device)"
        )
