"""ONNX Runtime GenAI's own settings."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator

from melt.config.settings import FrameworkSettings


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
