"""An experiment: models × quantizations × settings × workload × repeats.

List-valued fields form a cartesian product, like llama-bench's comma-separated flags. The
same schema is filled from a YAML file (`melt bench --config exp.yaml`) or from CLI flags;
either way, errors name the field and what it accepts.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from melt.config.model_defaults import defaults_for
from melt.config.settings import RunSettings, default_threads, engine_settings, settings_model
from melt.errors import MeltError
from melt.files import describe_validation, load_yaml, require_mapping
from melt.frameworks.registry import DEFAULT, PACKAGES, declaration, names

Positive = Annotated[int, Field(gt=0)]


class SamplingOverrides(BaseModel):
    """Sampling fields an experiment sets; unset ones come from the model's defaults."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    temperature: float | None = Field(None, ge=0.0)
    top_k: int | None = Field(None, ge=0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    min_p: float | None = Field(None, ge=0.0, le=1.0)
    repeat_penalty: float | None = Field(None, gt=0.0)
    seed: int = Field(0, ge=0)


class Experiment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    name: str = "bench"
    models: list[str] = Field(default_factory=lambda: ["smollm2-135m-instruct"], min_length=1)
    framework: str = DEFAULT  # before `quants`, whose names depend on it
    quants: list[str] = Field(default_factory=list)
    # The framework's own settings (e.g. flash_attn for llama.cpp, provider for ONNX Runtime
    # GenAI), validated against its settings model: a key it does not have is an error.
    engine: dict[str, Any] = Field(default_factory=dict)
    threads: list[Positive] = Field(default_factory=list)
    ctx: list[Positive] = Field(default_factory=list)
    batch: list[Positive] = Field(default_factory=lambda: [512], min_length=1)
    max_new_tokens: list[Positive] = Field(default_factory=list)
    sampling: SamplingOverrides = SamplingOverrides()
    workload: str = "builtin:chat"
    conversations: Positive | None = None
    repeats: Positive = 1
    warmup_turns: int = Field(1, ge=0)

    @field_validator("framework")
    @classmethod
    def _known_framework(cls, value: str) -> str:
        if value not in PACKAGES:
            raise ValueError(f"unknown framework '{value}' (known: {', '.join(names())})")
        return value

    @field_validator("quants")
    @classmethod
    def _known_quants(cls, value: list[str], info: ValidationInfo) -> list[str]:
        # A GGUF quantization for llama.cpp, an export precision for ONNX Runtime GenAI, ...
        framework = info.data.get("framework", DEFAULT)
        valid = declaration(framework).variant_names() if framework in PACKAGES else ()
        names = [q.strip().lower() for q in value]
        unknown = [q for q in names if q not in valid]
        if unknown:
            raise ValueError(f"unknown quantization '{unknown[0]}' (valid: {', '.join(valid)})")
        return names


@dataclass(frozen=True, slots=True)
class Cell:
    """One variant × setting of an experiment; each is run `repeats` times."""

    model: str
    quant: str | None
    settings: RunSettings


def expand(experiment: Experiment, flags: dict[str, str] | None = None) -> list[Cell]:
    """The cartesian product, with per-model defaults filling what the experiment leaves;
    the framework's own settings are checked here (`flags` names them as CLI flags)."""
    refused = settings_model(experiment.framework).shared_not_applied
    given = experiment.model_dump(include=experiment.model_fields_set & refused)
    engines = [
        engine_settings(experiment.framework, {**values, **given}, flags)
        for values in engine_sweep(experiment.framework, experiment.engine)
    ]
    cells = []
    quants: list[str | None] = list(experiment.quants) or [None]
    for model, quant in itertools.product(experiment.models, quants):
        d = defaults_for(model)
        chosen = experiment.sampling.model_dump(exclude_none=True)
        sampling = d.sampling.model_copy(update=chosen)
        for threads, ctx, batch, max_new, engine in itertools.product(
            experiment.threads or [default_threads()],
            experiment.ctx or [d.ctx],
            experiment.batch,
            experiment.max_new_tokens or [d.max_new_tokens],
            engines,
        ):
            settings = RunSettings(
                threads=threads,
                ctx=ctx,
                batch=batch,
                max_new_tokens=max_new,
                sampling=sampling,
                engine=engine,
            )
            cells.append(Cell(model, quant, settings))
    return cells


def engine_sweep(framework: str, engine: dict[str, Any]) -> list[dict[str, Any]]:
    """The framework's settings of each cell: a sweep knob given a list (`--gpu-layers
    0,16,all`, or a YAML list) contributes one value per cell, in the order given."""
    swept = {k.name for k in declaration(framework).knobs if k.sweep}
    axes = [
        [(key, item) for item in value]
        if key in swept and isinstance(value, list)
        else [(key, value)]
        for key, value in engine.items()
    ]
    return [dict(combo) for combo in itertools.product(*axes)] or [{}]


def describe_error(exc: ValidationError, where: str, flags: dict[str, str] | None = None) -> str:
    """One line naming the first offending field (as a YAML key path or a CLI flag)."""
    return describe_validation(exc, where, Experiment, flags)


def experiment_from(
    data: dict[str, Any], where: str, flags: dict[str, str] | None = None
) -> Experiment:
    try:
        return Experiment.model_validate(data)
    except ValidationError as exc:
        raise MeltError(describe_error(exc, where, flags)) from None


def load_experiment_file(path: Path) -> dict[str, Any]:
    """The raw mapping of an experiment YAML (validated later, after CLI overrides)."""
    what = "experiment file"
    data = load_yaml(path, what, "pass --config FILE.yaml")
    return dict(require_mapping(data, f"{what} '{path}'"))
