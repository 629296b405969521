"""Framework-neutral settings of one run: engine sizing, generation length, sampling."""

from __future__ import annotations

import os

from pydantic import BaseModel, ConfigDict, Field


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


class RunSettings(BaseModel):
    """Everything that shapes one run besides the model and the workload."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    threads: int = Field(gt=0)
    ctx: int = Field(2048, gt=0)
    batch: int = Field(512, gt=0)
    max_new_tokens: int = Field(64, gt=0)
    sampling: SamplingSettings = SamplingSettings()
