"""The framework registry: one line per framework, naming the package that declares it.

A framework is one package whose `__init__` holds a `Declaration` named `FRAMEWORK`: its
settings model and `melt bench` knobs, its options, its kind (in melt's process, a server
the runner starts, a server the user runs), what it needs on a device, the artifact formats
and variant names it runs, and its optional accuracy scorer. Everything else (the settings
union, `bench`'s flags and `--help`, the runner choice, eval's scorers) is derived from these
declarations, so adding a framework is its package plus one line in `PACKAGES`.

The declarations are data and reference code by `"module:attribute"` strings, loaded on
first use: this module and a declaration import only the standard library, because a
device's runner (no pydantic, no optional packages) finds its framework here too.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from melt.errors import MeltError

# The one registry line per framework: its name → the package that declares it.
PACKAGES: dict[str, str] = {
    "llama.cpp": "melt.frameworks.llamacpp",
    "onnxruntime-genai": "melt.frameworks.ort_genai",
    "llama-server": "melt.frameworks.llama_server",
    "openai-http": "melt.frameworks.openai",
}
DEFAULT = "llama.cpp"


class Kind(Enum):
    """Where a framework's model runs, which decides the runner that serves it."""

    IN_PROCESS = "in-process"  # melt's own process, or melt's runner on the device
    STARTED_SERVER = "server the runner starts"  # on the device, driven from the controller
    EXTERNAL_SERVER = "external server"  # one the user runs, reached over the network

    @property
    def is_server(self) -> bool:
        return self is not Kind.IN_PROCESS


@dataclass(frozen=True, slots=True)
class Knob:
    """One of a framework's own settings (a field of its settings model) as a CLI flag.

    `type` is the value's type on the command line (str, int, float; bool gives a
    `--name/--no-name` pair); a `repeatable` knob is list-valued: its flag is given once per
    `KEY=VALUE` item and the items form a mapping (`--provider-option a=1 --provider-option
    b=2`). `flag` is the flag's name when it is not the field's (`--provider-option` for
    `provider_options`). A `sweep` knob takes a comma-separated list (`--gpu-layers 0,16,all`)
    and each value is a cell of the experiment's cartesian product, as `--threads 1,2` is.
    """

    name: str
    help: str
    type: type = str
    repeatable: bool = False
    flag: str | None = None
    sweep: bool = False

    @property
    def flag_name(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")

    @property
    def flags(self) -> str:
        """The flag as errors name it (`--mmap/--no-mmap` for a bool)."""
        if self.type is bool:
            return f"{self.flag_name}/--no-{self.flag_name[2:]}"
        return self.flag_name


@dataclass(frozen=True, slots=True)
class Option:
    """A flag that configures the framework itself but is no setting of a run (where the
    server is, which executable to start); a string, never stored with a secret's value."""

    name: str
    help: str

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


@dataclass(frozen=True, slots=True)
class Needs:
    """What the framework needs where its model runs: a Python module (from the
    distribution `requirement` pins, for pip) or an executable (`binary`, which the
    framework puts there itself)."""

    python_module: str | None = None
    distribution: str | None = None
    requirement: str | None = None
    binary: str | None = None
    local_only: str | None = None
    """Why the framework runs only in melt's own process on the controller (None: melt's
    runner can bring it to a device)."""


@dataclass(frozen=True, slots=True)
class Declaration:
    """Everything melt needs to know about a framework besides its code."""

    name: str
    summary: str  # for `--framework`'s help, e.g. "in-process, default"
    kind: Kind
    implementation: str  # "module:Class", the `Framework` (constructed with its options)
    settings: str  # "module:Model", its pydantic settings model (a `FrameworkSettings`)
    knobs: tuple[Knob, ...] = ()
    options: tuple[Option, ...] = ()
    needs: Needs = field(default_factory=Needs)
    formats: tuple[str, ...] = ()  # artifact formats it runs (`Artifact.format`)
    variants: str | None = None  # "module:names", the variant names `--quant` takes
    scorer: str | None = None  # "module:Class" scoring log-likelihoods (`melt eval`)

    def framework_class(self) -> Any:
        return load(self.implementation)

    def settings_model(self) -> Any:
        return load(self.settings)

    def variant_names(self) -> tuple[str, ...]:
        return () if self.variants is None else tuple(load(self.variants))

    def scorer_class(self) -> Any:
        if self.scorer is None:
            raise MeltError(f"{self.name} cannot score (frameworks that can: {scoring_names()})")
        return load(self.scorer)


_LOADED: dict[str, Declaration] = {}


def load(reference: str) -> Any:
    """The attribute a `"module:attribute"` reference names, its module imported now."""
    module, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module), attribute)


def declaration(name: str) -> Declaration:
    """The declaration of the framework registered as `name`; an unknown name is one line
    listing the known ones."""
    found = _LOADED.get(name)
    if found is not None and name in PACKAGES:
        return found
    package = PACKAGES.get(name)
    if package is None:
        raise MeltError(f"unknown framework '{name}' (known: {', '.join(names())})")
    found = importlib.import_module(package).FRAMEWORK
    if found.name != name:
        raise RuntimeError(f"{package} declares '{found.name}', registered as '{name}'")
    _LOADED[name] = found
    return found


def names() -> list[str]:
    return sorted(PACKAGES)


def declarations() -> Iterator[Declaration]:
    """Every registered framework's declaration, in registry order."""
    for name in PACKAGES:
        yield declaration(name)


def scoring_names() -> str:
    """The frameworks with a scorer, for `melt eval`'s help and errors."""
    return ", ".join(d.name for d in declarations() if d.scorer is not None)


def scoring_framework(artifact_format: str) -> Declaration | None:
    """The framework that scores artifacts of this format (the first registered)."""
    for d in declarations():
        if d.scorer is not None and artifact_format in d.formats:
            return d
    return None


def knobs() -> dict[str, tuple[Knob, list[str]]]:
    """Every framework's knobs by name, each with the frameworks that have it; frameworks
    sharing a knob (llama.cpp's, in process and in llama-server) declare it alike."""
    found: dict[str, tuple[Knob, list[str]]] = {}
    for d in declarations():
        for knob in d.knobs:
            if knob.name in found and found[knob.name][0] != knob:
                raise RuntimeError(f"knob '{knob.name}' of {d.name} differs from another's")
            found.setdefault(knob.name, (knob, []))[1].append(d.name)
    return found


def options() -> dict[str, tuple[Option, list[str]]]:
    """Every framework's options by name, each with the frameworks that take it."""
    found: dict[str, tuple[Option, list[str]]] = {}
    for d in declarations():
        for option in d.options:
            found.setdefault(option.name, (option, []))[1].append(d.name)
    return found
