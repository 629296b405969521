"""Settings of one run: the shared ones (threads, context, batch, reply budget, sampling) in
`RunSettings`, and each framework's own knobs in its settings model (`LlamaCppSettings`,
`OrtGenAISettings`), registered by framework name in `FRAMEWORK_SETTINGS`.

A framework's model forbids keys it does not know, so a knob that framework does not have is
an error (`engine_settings`), never silently ignored; a shared setting the framework has no
knob for (`shared_not_applied`, e.g. ONNX Runtime GenAI's `batch`) is refused the same way
when the user sets it. Every field of both parts is stored in the run row's `settings`.
"""

from __future__ import annotations

import os
import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from melt.errors import MeltError


def default_threads() -> int:
    """Physical cores when psutil can tell, else logical CPUs: llama.cpp's own advice."""
    import psutil

    return psutil.cpu_count(logical=False) or os.cpu_count() or 1


class SamplingSettings(BaseModel):
    """llama.cpp-style sampling: repeat penalty → top-k → top-p → min-p → temperature →
    seeded draw. `temperature == 0` means greedy decoding; `repeat_penalty == 1` is off."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    temperature: float = Field(0.7, ge=0.0)
    top_k: int = Field(40, ge=0)
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    min_p: float = Field(0.05, ge=0.0, le=1.0)
    repeat_penalty: float = Field(1.0, gt=0.0)
    repeat_last_n: int = Field(64, ge=0)
    seed: int = Field(0, ge=0)


# llama.cpp's KV cache types, as llama-bench's -ctk/-ctv name them.
KV_CACHE_TYPES = ("f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "iq4_nl", "q5_0", "q5_1")
_CPU_MASK = re.compile(r"^(0x)?[0-9a-fA-F]+$")


class FrameworkSettings(BaseModel):
    """A framework's own knobs. `shared_not_applied` names the shared settings (fields of
    `RunSettings`) it has no knob for: given by the user, they are validated with its own
    knobs and refused as a key it does not have."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    shared_not_applied: ClassVar[frozenset[str]] = frozenset()


class LlamaCppKnobs(FrameworkSettings):
    """llama.cpp's own knobs, the ones llama-bench keys its rows on and that matter on
    phones: flash attention, KV cache types, CPU affinity (`cpu_mask`, hex, bit i = CPU i;
    `cpu_strict` pins one thread per CPU of the mask, the way to keep a big.LITTLE phone on
    its big cores), memory-mapped weights, and the threadpool's busy-wait level (0–100).
    Shared by every framework that is llama.cpp underneath (in process, llama-server)."""

    flash_attn: Literal["on", "off", "auto"] = "auto"
    cache_type_k: Literal[KV_CACHE_TYPES] = "f16"  # type: ignore[valid-type]
    cache_type_v: Literal[KV_CACHE_TYPES] = "f16"  # type: ignore[valid-type]
    cpu_mask: str | None = None
    cpu_strict: bool = False
    mmap: bool = True
    poll: int = Field(50, ge=0, le=100)

    @field_validator("cpu_mask")
    @classmethod
    def _hex_mask(cls, value: str | None) -> str | None:
        if value is not None and (not _CPU_MASK.match(value) or int(value, 16) == 0):
            raise ValueError("expected a non-zero hex CPU mask such as 0x3 or f0")
        return value


class LlamaCppSettings(LlamaCppKnobs):
    """llama.cpp in melt's process (or melt's runner on the device)."""

    framework: Literal["llama.cpp"] = "llama.cpp"


class OrtGenAISettings(FrameworkSettings):
    """ONNX Runtime GenAI's own knobs: the execution provider (`cpu` is ORT's default one;
    others, such as `qnn`, `xnnpack`, `webgpu`, must be in the installed build) and its
    provider options (`KEY=VALUE`, passed to `Config.set_provider_option` verbatim)."""

    # Its Python API takes a prompt in one `append_tokens` call: no prefill batch to set.
    shared_not_applied: ClassVar[frozenset[str]] = frozenset({"batch"})

    framework: Literal["onnxruntime-genai"] = "onnxruntime-genai"
    provider: str = "cpu"
    provider_options: dict[str, str] = Field(default_factory=dict)

    @field_validator("provider")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.strip().lower()


class LlamaServerSettings(LlamaCppKnobs):
    """llama-server, started by melt on the device: llama.cpp's knobs become its flags
    (`--flash-attn`, `--cache-type-k/-v`, `--cpu-mask`, `--cpu-strict`, `--poll`,
    `--load-mode`), beside the shared settings (threads, ctx, batch, sampling) and its own
    options (`--server-binary`)."""

    framework: Literal["llama-server"] = "llama-server"


class OpenAIHttpSettings(FrameworkSettings):
    """A server the user runs, reached over its OpenAI-compatible API (`--endpoint`,
    `--api-model`, `--api-key-env` are its options); melt sets none of its knobs."""

    framework: Literal["openai-http"] = "openai-http"


EngineSettings = Annotated[
    LlamaCppSettings | OrtGenAISettings | LlamaServerSettings | OpenAIHttpSettings,
    Field(discriminator="framework"),
]

FRAMEWORK_SETTINGS: dict[str, type[FrameworkSettings]] = {
    "llama.cpp": LlamaCppSettings,
    "onnxruntime-genai": OrtGenAISettings,
    "llama-server": LlamaServerSettings,
    "openai-http": OpenAIHttpSettings,
}


def engine_settings(
    framework: str, values: dict[str, Any], flags: dict[str, str] | None = None
) -> EngineSettings:
    """`framework`'s settings from `values`; a key it does not have, or a bad value, is one
    line naming the key (as the CLI flag when `flags` maps it) and what the framework has."""
    model = FRAMEWORK_SETTINGS.get(framework)
    if model is None:
        raise MeltError(
            f"unknown framework '{framework}' (known: {', '.join(sorted(FRAMEWORK_SETTINGS))})"
        )
    try:
        return model.model_validate({**values, "framework": framework})  # type: ignore[return-value]
    except ValidationError as exc:
        error = exc.errors()[0]
        key = str(error["loc"][0]) if error["loc"] else ""
        name = (flags or {}).get(key, key)
        own = ", ".join((flags or {}).get(k, k) for k in model.model_fields if k != "framework")
        if error["type"] == "extra_forbidden":
            raise MeltError(
                f"{name} is not a setting of {framework} "
                + (f"(its own settings: {own})" if own else "(it has no settings of its own)")
            ) from None
        raise MeltError(f"{name}: {error['msg'].lower()} (got {error.get('input')!r})") from None


class RunSettings(BaseModel):
    """Everything that shapes one run besides the model and the workload: the settings
    every framework shares, and the framework's own in `engine`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    threads: int = Field(gt=0)
    ctx: int = Field(2048, gt=0)
    batch: int = Field(512, gt=0)
    max_new_tokens: int = Field(64, gt=0)
    sampling: SamplingSettings = SamplingSettings()
    engine: EngineSettings = Field(default_factory=LlamaCppSettings)

    def engine_as(self, model: type[BaseModel], framework: str) -> Any:
        """The framework's own settings, or a one-line error when they are another's."""
        if not isinstance(self.engine, model):
            raise MeltError(
                f"{framework} got settings for {self.engine.framework} "
                f"(pass --framework {self.engine.framework}, or settings of {framework})"
            )
        return self.engine


def engine_knobs(engine: dict[str, Any]) -> str:
    """The framework's own settings that differ from its defaults, as `key=value` pairs
    (what sets two otherwise equal runs apart); "defaults" when none does."""
    model = FRAMEWORK_SETTINGS.get(str(engine.get("framework")))
    if model is None:
        return ""
    defaults = model().model_dump()
    changed = [
        f"{k}={v}" for k, v in engine.items() if k != "framework" and defaults.get(k, v) != v
    ]
    return ", ".join(changed) or "defaults"
