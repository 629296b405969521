"""Settings of one run: the shared ones (threads, context, batch, reply budget, sampling) in
`RunSettings`, and each framework's own knobs in the settings model its package declares
(a `FrameworkSettings`, found by framework name in frameworks/registry.py).

A framework's model forbids keys it does not know, so a knob that framework does not have is
an error (`engine_settings`), never silently ignored; a shared setting the framework has no
knob for (`shared_not_applied`, e.g. ONNX Runtime GenAI's `batch`) is refused the same way
when the user sets it. Every field of both parts is stored in the run row's `settings`.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, ValidationError, field_validator

from melt.errors import MeltError
from melt.frameworks.registry import DEFAULT, PACKAGES, declaration


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


class FrameworkSettings(BaseModel):
    """A framework's own knobs, and `framework: Literal[<its name>]`, which chooses the
    model when settings are read back. `shared_not_applied` names the shared settings
    (fields of `RunSettings`) it has no knob for: given by the user, they are validated with
    its own knobs and refused as a key it does not have."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    shared_not_applied: ClassVar[frozenset[str]] = frozenset()


def settings_model(framework: str) -> type[FrameworkSettings]:
    """The settings model `framework` declares (frameworks/registry.py)."""
    model: type[FrameworkSettings] = declaration(framework).settings_model()
    return model


def engine_settings(
    framework: str, values: dict[str, Any], flags: dict[str, str] | None = None
) -> FrameworkSettings:
    """`framework`'s settings from `values`; a key it does not have, or a bad value, is one
    line naming the key (as the CLI flag when `flags` maps it) and what the framework has."""
    model = settings_model(framework)
    try:
        return model.model_validate({**values, "framework": framework})
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
    # The framework's own settings: its declared model, chosen by the `framework` key.
    engine: SerializeAsAny[FrameworkSettings] = Field(
        default_factory=lambda: engine_settings(DEFAULT, {})
    )

    @field_validator("engine", mode="before")
    @classmethod
    def _framework_model(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return settings_model(str(value.get("framework", DEFAULT))).model_validate(value)
        return value

    def engine_as(self, model: type[BaseModel], framework: str) -> Any:
        """The framework's own settings, or a one-line error when they are another's."""
        if not isinstance(self.engine, model):
            given = getattr(self.engine, "framework", "?")
            raise MeltError(
                f"{framework} got settings for {given} "
                f"(pass --framework {given}, or settings of {framework})"
            )
        return self.engine


def engine_knobs(engine: dict[str, Any]) -> str:
    """The framework's own settings that differ from its defaults, as `key=value` pairs
    (what sets two otherwise equal runs apart); "defaults" when none does."""
    framework = str(engine.get("framework"))
    if framework not in PACKAGES:
        return ""
    model = settings_model(framework)
    defaults = model().model_dump()
    changed = [
        f"{k}={v}" for k, v in engine.items() if k != "framework" and defaults.get(k, v) != v
    ]
    return ", ".join(changed) or "defaults"
