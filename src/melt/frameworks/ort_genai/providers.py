"""ONNX Runtime GenAI's execution providers: which ones the installed build has, and the
`ComputeUse` a run records.

GenAI names a provider for `Config.append_provider` (`cpu`, `cuda`, `qnn`, ...); the
ONNX Runtime it runs on (the `onnxruntime` package's library, which GenAI loads) lists the
ones compiled into it by their ONNX Runtime names (`get_available_providers`:
`CPUExecutionProvider`, `CUDAExecutionProvider`, ...). A provider that is not in the build
is refused before loading, naming those it has; the run records the provider its session
was created with.
"""

from __future__ import annotations

from dataclasses import dataclass

from melt.compute import ComputeDevice, ComputeUse
from melt.errors import MeltError


@dataclass(frozen=True, slots=True)
class Provider:
    """One GenAI provider name, ONNX Runtime's name for it, and the kind of device it runs."""

    name: str
    ort_name: str
    kind: str


PROVIDERS = {
    p.name: p
    for p in (
        Provider("cpu", "CPUExecutionProvider", "cpu"),
        Provider("cuda", "CUDAExecutionProvider", "gpu"),
        Provider("dml", "DmlExecutionProvider", "gpu"),
        Provider("qnn", "QNNExecutionProvider", "npu"),
        Provider("openvino", "OpenVINOExecutionProvider", "accel"),
        Provider("webgpu", "WebGpuExecutionProvider", "gpu"),
        Provider("xnnpack", "XnnpackExecutionProvider", "cpu"),
        Provider("nvtensorrtrtx", "NvTensorRTRTXExecutionProvider", "gpu"),
    )
}


def built_in() -> tuple[str, ...]:
    """ONNX Runtime's names of the providers the installed build has."""
    import onnxruntime

    return tuple(onnxruntime.get_available_providers())


def device(provider: Provider) -> ComputeDevice:
    return ComputeDevice(kind=provider.kind, api=provider.ort_name, name=provider.name)


def available() -> tuple[ComputeDevice, ...]:
    """The GenAI providers the installed build has, as compute devices."""
    have = set(built_in())
    return tuple(device(p) for p in PROVIDERS.values() if p.ort_name in have)


def check_provider(name: str) -> Provider:
    """The provider `--provider` names, or one line naming the ones the build has."""
    has = ", ".join(d.name for d in available()) or "none"
    provider = PROVIDERS.get(name)
    if provider is None:
        raise MeltError(
            f"--provider: unknown execution provider '{name}' (ONNX Runtime GenAI knows: "
            f"{', '.join(PROVIDERS)}; this build has: {has})"
        )
    if provider.ort_name not in built_in():
        raise MeltError(
            f"--provider {name}: this ONNX Runtime build has no {provider.ort_name} (it has: "
            f"{has}); install a build with it (e.g. onnxruntime-genai-cuda) or pass one of those"
        )
    return provider


def compute_use(provider: Provider) -> ComputeUse:
    """What a run's session was created with, among what the build has."""
    return ComputeUse(
        devices=(device(provider),),
        available=available(),
        provider=provider.ort_name,
        evidence=(f"onnxruntime.get_available_providers(): {', '.join(built_in())}",),
        source="the provider GenAI's session was created with (Config.append_provider), "
        "checked against onnxruntime.get_available_providers()",
    )
