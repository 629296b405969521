"""Where llama.cpp put a model, read from its own load log (both in process and llama-server).

llama.cpp says where the weights and the KV cache went as it loads them, at info level:

    load_tensors: offloaded 31/31 layers to GPU
    load_tensors:   CPU_Mapped model buffer size =    28.69 MiB
    load_tensors:      Vulkan0 model buffer size =    92.10 MiB
    llama_kv_cache:    Vulkan0 KV buffer size =    11.25 MiB

A buffer named after a backend device (`Vulkan0`, `CUDA0`) lives on that device; the others
(`CPU`, `CPU_Mapped`, `CPU_REPACK`, `Vulkan_Host`, `CUDA_Host`) in host memory. These lines,
not the flags a run was given, are what a run's `ComputeUse` records: a build that sees no
device runs `-ngl 99` on the CPU and says so only here. Standard library only (a device's
runner parses its own log).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from melt.compute import CPU, ComputeDevice, ComputeUse

_LAYERS = re.compile(r"offloaded (\d+)/(\d+) layers to GPU")
_MODEL_BUFFER = re.compile(r"load_tensors:\s+(\S+) model buffer size\s*=")
_KV_BUFFER = re.compile(r"llama_kv_cache:\s+(\S+) KV buffer size\s*=")
_EVIDENCE = (_LAYERS, _MODEL_BUFFER, _KV_BUFFER, re.compile(r"using device \S+"))
# llama-server's log lines start with a timestamp and a level (`0.00.142.603 I `).
_PREFIX = re.compile(r"^\d+\.\d+\.\d+\.\d+ [A-Z] ")


def evidence_lines(lines: Iterable[str]) -> tuple[str, ...]:
    """The lines of a llama.cpp log that say where the model went, without log prefixes."""
    found = []
    for raw in lines:
        line = _PREFIX.sub("", raw.strip())
        if any(pattern.search(line) for pattern in _EVIDENCE):
            found.append(" ".join(line.split()))
    return tuple(found)


def compute_use(
    lines: Iterable[str], available: tuple[ComputeDevice, ...], source: str
) -> ComputeUse:
    """The run's `ComputeUse` from llama.cpp's load log and the devices the build has."""
    evidence = evidence_lines(lines)
    by_name = {d.name: d for d in available}
    cpu = next((d for d in available if d.kind == "cpu"), CPU)
    layers = next((m for m in map(_LAYERS.search, evidence) if m), None)

    def holders(pattern: re.Pattern[str]) -> list[ComputeDevice]:
        names = [m.group(1) for m in map(pattern.search, evidence) if m]
        return [by_name.get(name, cpu) for name in names]

    weights, kv = holders(_MODEL_BUFFER), holders(_KV_BUFFER)
    devices = tuple(dict.fromkeys(sorted(weights + kv, key=lambda d: d.kind == "cpu")))
    return ComputeUse(
        devices=devices or (cpu,),
        available=available,
        layers_offloaded=int(layers.group(1)) if layers else None,
        layers_total=int(layers.group(2)) if layers else None,
        kv_on_device=any(d.kind != "cpu" for d in kv) if kv else None,
        evidence=evidence,
        source=source,
    )


def api_of(device_name: str) -> str:
    """A backend device's API from its name as llama.cpp lists it (`Vulkan0` → `Vulkan`)."""
    return device_name.rstrip("0123456789") or device_name
