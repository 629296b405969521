"""Per-model generation defaults, in one framework-neutral place.

MELT kept one YAML per model for this; here it is one table. An experiment overrides any
field; a model not listed gets `GENERIC`. Keys are base model names: a quantized variant
uses its base model's row.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from melt.config.settings import SamplingSettings


class GenerationDefaults(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sampling: SamplingSettings = SamplingSettings()
    max_new_tokens: int = Field(64, gt=0)
    ctx: int = Field(2048, gt=0)


GENERIC = GenerationDefaults()

MODEL_DEFAULTS: dict[str, GenerationDefaults] = {
    # SmolLM2's model card samples with temperature 0.2 and top-p 0.9; it is trained on 8k
    # contexts, and chat turns on a phone rarely need more than 2k.
    "smollm2-135m-instruct": GenerationDefaults(
        sampling=SamplingSettings(temperature=0.2, top_p=0.9, top_k=40),
        max_new_tokens=64,
        ctx=2048,
    ),
}


def defaults_for(model_name: str) -> GenerationDefaults:
    return MODEL_DEFAULTS.get(model_name, GENERIC)
