"""The channel plan: what a probe reads, apart from where it runs.

Discovery (a probe walking sysfs through the device's file view) returns a `ProbePlan`:
plain `Channel`s, each the first line of one file with its unit, scale and parser, and
`Derived` channels computed from them in the same tick (a rail's V × I, a battery's discharge
current from `current_now` and `status`, a total over rails). Every sampler executes the same
plan: the in-process `Sampler` (through `PlannedProbe.read`), the runner melt ships to a
device (the same `Sampler` there) and the phone's sh loop (devices/android_sampler.py, which
reads `files()` and hands each tick's texts to `samples`). So a probe written as a plan works
on a phone with no second implementation.

Standard library only: the runner melt ships to a device imports it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from melt.devices.fspath import SysPath
from melt.probes.base import ProbeReadError
from melt.traces.sample import Sample

Value = float | str


def _int(text: str) -> int:
    return int(text)


def _float(text: str) -> float:
    return float(text)


def _text(text: str) -> str:
    return text


# How a file's first line becomes a raw value (numbers are divided by the channel's scale).
PARSERS: dict[str, Callable[[str], Value]] = {"int": _int, "float": _float, "text": _text}


@dataclass(frozen=True, slots=True)
class Channel:
    """One file read every tick: `value = parser(first line) / scale`, in `unit` (e.g. a
    thermal zone's `temp`, m°C, scale 1000 → °C). `emit=False` keeps it as an input of a
    derived channel only (a battery's `status`)."""

    probe: str
    channel: str
    path: str
    unit: str
    scale: float = 1.0
    parser: str = "int"
    emit: bool = True


def _product(values: Sequence[Value], args: Sequence[str]) -> float:
    out = 1.0
    for v in values:
        out *= float(v)
    return out


def _sum(values: Sequence[Value], args: Sequence[str]) -> float:
    return sum(float(v) for v in values)


def _equals(values: Sequence[Value], args: Sequence[str]) -> float:
    return float(values[0] == args[0])


Op = Callable[[Sequence[Value], Sequence[str]], float]

# How a derived channel is computed from its inputs' values (and its constant args); a probe
# module adds its own with `register_op` (the battery's discharge current).
OPS: dict[str, Op] = {"product": _product, "sum": _sum, "equals": _equals}


def register_op(name: str) -> Callable[[Op], Op]:
    def add(op: Op) -> Op:
        OPS[name] = op
        return op

    return add


@dataclass(frozen=True, slots=True)
class Derived:
    """A channel computed each tick from other channels of the same probe (`inputs`, by
    channel name, in order) by `OPS[op]`; it is left out of a tick where an input is."""

    probe: str
    channel: str
    unit: str
    op: str
    inputs: tuple[str, ...]
    args: tuple[str, ...] = ()


Step = Channel | Derived


@dataclass(frozen=True, slots=True)
class ProbePlan:
    """The channels of one or more probes, evaluated in order (a derived channel follows its
    inputs)."""

    steps: tuple[Step, ...] = ()

    def files(self) -> list[str]:
        """The files a tick reads, each once, in first-use order."""
        return list(dict.fromkeys(s.path for s in self.steps if isinstance(s, Channel)))

    def channels(self) -> list[tuple[str, str, str]]:
        """(probe, channel, unit) of every emitted channel."""
        return [(s.probe, s.channel, s.unit) for s in self.steps if _emitted(s)]

    def __add__(self, other: ProbePlan) -> ProbePlan:
        return ProbePlan(self.steps + other.steps)

    def samples(self, t_ns: int, texts: Mapping[str, str | None]) -> list[Sample]:
        """One tick's `Sample`s from the files' texts (`texts[path]`, None when unreadable:
        its channels, and the derived ones that need them, are left out). A value that does
        not parse raises `ProbeReadError` naming the file."""
        values: dict[tuple[str, str], Value] = {}
        out: list[Sample] = []
        for step in self.steps:
            value = _value(step, texts, values)
            if value is None:
                continue
            values[(step.probe, step.channel)] = value
            if _emitted(step) and not isinstance(value, str):
                out.append(Sample(t_ns, step.probe, step.channel, value, step.unit))
        return out


def _emitted(step: Step) -> bool:
    return isinstance(step, Derived) or step.emit


def _value(
    step: Step, texts: Mapping[str, str | None], values: Mapping[tuple[str, str], Value]
) -> Value | None:
    if isinstance(step, Derived):
        inputs = [values.get((step.probe, name)) for name in step.inputs]
        if any(v is None for v in inputs):
            return None
        return OPS[step.op]([v for v in inputs if v is not None], step.args)
    text = texts.get(step.path)
    if text is None:
        return None
    line = text.strip().partition("\n")[0].strip()
    try:
        raw = PARSERS[step.parser](line)
    except ValueError:
        raise ProbeReadError(f"{step.path} holds '{line[:40]}', not {step.parser}") from None
    return raw if isinstance(raw, str) else raw / step.scale


def read_texts(files: Sequence[tuple[str, SysPath]]) -> tuple[dict[str, str | None], list[str]]:
    """Each file's text, keyed by its plan path, and the messages of those that could not be
    read."""
    texts: dict[str, str | None] = {}
    errors: list[str] = []
    for path, file in files:
        try:
            texts[path] = file.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            texts[path] = None
            errors.append(f"cannot read {path}: {exc}")
    return texts, errors


class PlannedProbe(ABC):
    """A probe whose reading is its channel plan: subclasses discover `_plan()` (once) and
    declare `name`, `available` and `info`; `read` executes the plan under `root`. An
    unreadable file is a `ProbeReadError` here (the sampler counts it); the phone's sh loop,
    which reads the same plan, leaves that channel out of the tick instead."""

    name: str
    root: SysPath
    # The sysfs trees its discovery walks, (path under the root, depth as `find -maxdepth`):
    # a transport takes them in one round trip (devices/snapshot.py) instead of one per file.
    trees: ClassVar[tuple[tuple[str, int], ...]] = ()
    _cached: ProbePlan | None = None
    _files: list[tuple[str, SysPath]] | None = None

    def plan(self) -> ProbePlan:
        if self._cached is None:
            self._cached = self._plan()
        return self._cached

    @abstractmethod
    def _plan(self) -> ProbePlan:
        """Discover the channels (through `root`'s file view)."""

    def read(self, t_ns: int) -> list[Sample]:
        plan = self.plan()
        if self._files is None:  # `root / path`: absolute paths as discovery found them
            self._files = [(path, self.root / path) for path in plan.files()]
        texts, errors = read_texts(self._files)
        if errors:
            raise ProbeReadError("; ".join(errors))
        return plan.samples(t_ns, texts)
