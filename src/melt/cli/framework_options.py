"""The flags that choose a framework, set its options and its knobs, derived from the
framework registry (frameworks/registry.py).

A command that runs a framework (`melt bench`) takes them as `**framework_flags` and is
wrapped in `FrameworkFlags`, which gives typer one parameter per flag: `--framework`, each
declared option (`--endpoint`, ...) and each declared knob (`--flash-attn`, ...), with the
help of the frameworks that have it. The registry is read whenever the CLI is built, so a
framework registered later still has its flags.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import typer

from melt.errors import MeltError
from melt.frameworks import FrameworkOptions
from melt.frameworks.registry import declarations, knobs, options

FRAMEWORK = "framework"


def _flag(name: str, decls: str, help_: str, annotation: Any = str) -> inspect.Parameter:
    default = typer.Option(None, decls, help=help_)
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
    )


def _parameters() -> list[inspect.Parameter]:
    """`--framework`, then every framework's options, then every knob, in registry order;
    an option or knob says which frameworks have it."""
    listed = ", ".join(f"{d.name} ({d.summary})" for d in declarations())
    params = [_flag(FRAMEWORK, "--framework", f"Inference framework: {listed}.")]
    for name, (option, frameworks) in options().items():
        params.append(_flag(name, option.flag, f"{', '.join(frameworks)}: {option.help}"))
    for name, (knob, frameworks) in knobs().items():
        annotation = list[str] if knob.repeatable else knob.type
        params.append(_flag(name, knob.flags, f"{', '.join(frameworks)}: {knob.help}", annotation))
    return params


class FrameworkFlags:
    """A command function whose `**framework_flags` are the registry's flags (see module)."""

    def __init__(self, func: Callable[..., None]) -> None:
        self.func = func
        self.__name__ = func.__name__
        self.__doc__ = func.__doc__

    @property
    def __signature__(self) -> inspect.Signature:
        own = inspect.signature(self.func, eval_str=True).parameters.values()
        fixed = [p for p in own if p.kind is not inspect.Parameter.VAR_KEYWORD]
        flags = _parameters()
        clash = {p.name for p in fixed} & {p.name for p in flags}
        if clash:
            raise RuntimeError(f"framework flags {sorted(clash)} clash with {self.__name__}'s own")
        return inspect.Signature(fixed + flags)

    @property
    def __annotations__(self) -> dict[str, Any]:  # the signature's annotations are evaluated
        return {}

    def __call__(self, **values: Any) -> None:
        self.func(**values)


def framework_options(flags: dict[str, Any]) -> FrameworkOptions:
    """The options the user gave (the framework checks it takes them)."""
    return FrameworkOptions(**{name: flags.get(name) for name in options()})


def engine_values(flags: dict[str, Any]) -> dict[str, Any] | None:
    """The knobs the user set, as the settings model's fields (unset ones stay the
    framework's defaults); a repeatable knob's `KEY=VALUE` items become a mapping, a sweep
    knob's comma-separated values a list (one cell each)."""
    chosen: dict[str, Any] = {}
    for name, (knob, _) in knobs().items():
        value = flags.get(name)
        if value is None or (knob.repeatable and not value):
            continue
        if knob.repeatable:
            chosen[name] = key_values(knob.flag_name, value)
        elif knob.sweep:
            chosen[name] = [part.strip() for part in str(value).split(",") if part.strip()]
        else:
            chosen[name] = value
    return chosen or None


def engine_flags() -> dict[str, str]:
    """Each knob's flag, by its settings field (errors name the flag the user typed)."""
    return {name: knob.flags for name, (knob, _) in knobs().items()}


def key_values(flag: str, items: list[str]) -> dict[str, str]:
    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise MeltError(f"{flag}: expected KEY=VALUE (got '{item}')")
        pairs[key.strip()] = value.strip()
    return pairs
