"""llama.cpp's own settings, validated on the controller (a device's runner reads them as
plain attributes: it has no pydantic)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from melt.compute import GPU_LAYERS_ALL
from melt.config.settings import FrameworkSettings

# llama.cpp's KV cache types, as llama-bench's -ctk/-ctv name them.
KV_CACHE_TYPES = ("f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "iq4_nl", "q5_0", "q5_1")
_CPU_MASK = re.compile(r"^(0x)?[0-9a-fA-F]+$")
_DEVICE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")


class LlamaCppKnobs(FrameworkSettings):
    """llama.cpp's own knobs, the ones llama-bench keys its rows on and that matter on
    phones: flash attention, KV cache types, CPU affinity (`cpu_mask`, hex, bit i = CPU i;
    `cpu_strict` pins one thread per CPU of the mask, the way to keep a big.LITTLE phone on
    its big cores), memory-mapped weights, the threadpool's busy-wait level (0–100), and
    offload to an accelerator as llama.cpp names it: `gpu_layers` (-ngl: a count or "all";
    0, the default, keeps the model on the CPU), `split_mode`, `main_gpu`, `accel_device`
    (llama.cpp's `--device`, a backend device name such as `Vulkan0`) and `kv_offload`.
    Shared by every framework that is llama.cpp underneath (in process, llama-server)."""

    flash_attn: Literal["on", "off", "auto"] = "auto"
    cache_type_k: Literal[KV_CACHE_TYPES] = "f16"  # type: ignore[valid-type]
    cache_type_v: Literal[KV_CACHE_TYPES] = "f16"  # type: ignore[valid-type]
    cpu_mask: str | None = None
    cpu_strict: bool = False
    mmap: bool = True
    poll: int = Field(50, ge=0, le=100)
    gpu_layers: int | Literal["all"] = 0
    split_mode: Literal["none", "layer", "row"] = "layer"
    main_gpu: int = Field(0, ge=0)
    accel_device: str | None = None
    kv_offload: bool = True

    @field_validator("cpu_mask")
    @classmethod
    def _hex_mask(cls, value: str | None) -> str | None:
        if value is not None and (not _CPU_MASK.match(value) or int(value, 16) == 0):
            raise ValueError("expected a non-zero hex CPU mask such as 0x3 or f0")
        return value

    @field_validator("gpu_layers", mode="before")
    @classmethod
    def _layers(cls, value: object) -> object:
        text = str(value).strip().lower()
        if text == GPU_LAYERS_ALL:
            return GPU_LAYERS_ALL
        if not text.isdigit():
            raise ValueError("expected a layer count (0 or more) or 'all'")
        return int(text)

    @field_validator("accel_device")
    @classmethod
    def _device_name(cls, value: str | None) -> str | None:
        if value is not None and not _DEVICE_NAME.match(value):
            raise ValueError("expected a backend device name such as Vulkan0 or CUDA0")
        return value


class LlamaCppSettings(LlamaCppKnobs):
    """llama.cpp in melt's process (or melt's runner on the device)."""

    framework: Literal["llama.cpp"] = "llama.cpp"
