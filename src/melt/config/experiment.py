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

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from melt.config.model_defaults import defaults_for
from melt.config.settings import RunSettings, default_threads
from melt.errors import MeltError
from melt.models.quant_types import QUANT_TYPES

Positive = Annotated[int, Field(gt=0)]


class SamplingOverrides(BaseModel):
    """Sampling fields an experiment sets; unset ones come from the model's defaults."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    temperature: float | None = Field(None, ge=0.0)
    top_k: int | None = Field(None, ge=0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    min_p: float | None = Field(None, ge=0.0, le=1.0)
    repeat_penalty: float | None = Field(None, gt=0.0)
    seed: int = Field(0, ge=0)


class Experiment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "bench"
    models: list[str] = Field(default_factory=lambda: ["smollm2-135m-instruct"], min_length=1)
    quants: list[str] = Field(default_factory=list)
    framework: str = "llama.cpp"
    threads: list[Positive] = Field(default_factory=list)
    ctx: list[Positive] = Field(default_factory=list)
    batch: list[Positive] = Field(default_factory=lambda: [512], min_length=1)
    max_new_tokens: list[Positive] = Field(default_factory=list)
    sampling: SamplingOverrides = SamplingOverrides()
    workload: str = "builtin:chat"
    conversations: Positive | None = None
    repeats: Positive = 1
    warmup_turns: int = Field(1, ge=0)

    @field_validator("quants")
    @classmethod
    def _known_quants(cls, value: list[str]) -> list[str]:
        names = [q.strip().lower() for q in value]
        unknown = [q for q in names if q not in QUANT_TYPES]
        if unknown:
            raise ValueError(
                f"unknown quantization '{unknown[0]}' (valid: {', '.join(QUANT_TYPES)})"
            )
        return names


@dataclass(frozen=True, slots=True)
class Cell:
    """One variant × setting of an experiment; each is run `repeats` times."""

    model: str
    quant: str | None
    settings: RunSettings


def expand(experiment: Experiment) -> list[Cell]:
    """The cartesian product, with per-model defaults filling what the experiment leaves."""
    cells = []
    quants: list[str | None] = list(experiment.quants) or [None]
    for model, quant in itertools.product(experiment.models, quants):
        d = defaults_for(model)
        chosen = experiment.sampling.model_dump(exclude_none=True)
        sampling = d.sampling.model_copy(update=chosen)
        for threads, ctx, batch, max_new in itertools.product(
            experiment.threads or [default_threads()],
            experiment.ctx or [d.ctx],
            experiment.batch,
            experiment.max_new_tokens or [d.max_new_tokens],
        ):
            settings = RunSettings(
                threads=threads, ctx=ctx, batch=batch, max_new_tokens=max_new, sampling=sampling
            )
            cells.append(Cell(model, quant, settings))
    return cells


def describe_error(exc: ValidationError, where: str, flags: dict[str, str] | None = None) -> str:
    """One line naming the first offending field (as a YAML path or a CLI flag)."""
    error = exc.errors()[0]
    loc = ".".join(str(p) for p in error["loc"])
    top = str(error["loc"][0]) if error["loc"] else ""
    name = (flags or {}).get(top, loc)
    if error["type"] == "extra_forbidden":
        known = ", ".join(Experiment.model_fields)
        return f"{where}: unknown key '{loc}' (known keys: {known})"
    got = error.get("input")
    return f"{where}: {name}: {error['msg'].lower()} (got {got!r})"


def experiment_from(
    data: dict[str, Any], where: str, flags: dict[str, str] | None = None
) -> Experiment:
    try:
        return Experiment.model_validate(data)
    except ValidationError as exc:
        raise MeltError(describe_error(exc, where, flags)) from None


def load_experiment_file(path: Path) -> dict[str, Any]:
    """The raw mapping of an experiment YAML (validated later, after CLI overrides)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MeltError(f"experiment file '{path}' not found (pass --config FILE.yaml)") from None
    except OSError as exc:
        raise MeltError(f"experiment file '{path}' is not readable ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise MeltError(f"experiment file '{path}'{where}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise MeltError(f"experiment file '{path}': top level must be a mapping of keys")
    return data
