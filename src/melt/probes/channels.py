"""The channel plan: what a probe reads, apart from where it runs.

Discovery (a probe walking sysfs through the device's file view) returns a `ProbePlan`:
plain `Channel`s, each one line of one file (its first, or the line a multi-line file such as
/proc/stat or /proc/meminfo names by its first field) with its unit, scale and parser;
`Derived` channels computed from them in the same tick (a rail's V × I, a battery's discharge
current from `current_now` and `status`, a total over rails); and `Counter` channels, the rate
of a value that only grows (RAPL's energy in W, with its wraparound; busy over total jiffies
in %), which need the previous tick: a `PlanReader` holds that state for one sampling.
Every sampler executes the same plan: the in-process `Sampler` (through `PlannedProbe.read`),
the runner melt ships to a device (the same `Sampler` there) and the phone's sh loop
(devices/android_sampler.py, which reads `sources()` and hands each tick's texts to a
`PlanReader`). So a probe written as a plan works on a phone with no second implementation.

Not plans: probes read through a library or an instrument rather than files (NVML's
`nvmlDeviceGetPowerUsage`, a Monsoon over USB serial). Their values come from a C library or a
protocol on the controller, not from a file any shell can read, so no sh loop could run them.

Standard library only: the runner melt ships to a device imports it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

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


# How a line (a file's first, or the one `Channel.line` names) becomes a raw value (numbers
# are divided by the channel's scale).
# probes/procfs_lines.py adds those of /proc's multi-line files.
PARSERS: dict[str, Callable[[str], Value]] = {"int": _int, "float": _float, "text": _text}


@dataclass(frozen=True, slots=True)
class Channel:
    """One file read every tick: `value = parser(line) / scale`, in `unit` (e.g. a thermal
    zone's `temp`, m°C, scale 1000 → °C). `emit=False` keeps it as an input of a derived or
    counter channel only (a battery's `status`, a RAPL zone's `energy_uj`).

    `line` picks the line of a multi-line file by its first field (`MemAvailable:` of
    /proc/meminfo, `cpu0` of /proc/stat); empty, the first line. `every_s` reads the file at
    most once per that many seconds (a costly one: smaps_rollup makes the kernel walk every
    page). An `optional` file that cannot be read is left out for the rest of the sampling,
    and a missing `line` of it left out of the tick, instead of being a read error."""

    probe: str
    channel: str
    path: str
    unit: str
    scale: float = 1.0
    parser: str = "int"
    emit: bool = True
    line: str = ""
    every_s: float = 0.0
    optional: bool = False


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


Stamp = Literal["tick", "mid"]


@dataclass(frozen=True, slots=True)
class Counter:
    """The rate of a value that only grows, from its change since the previous tick.

    `input` names the channel (of the same probe, usually `emit=False`) holding the counter.
    The rate is `factor × Δinput / Δt` in seconds, or with `per`, `factor × Δinput / Δper`
    (another counter: busy over total jiffies, clamped to [0, factor] as the kernel's iowait
    accounting can dip). `wrap` is the value at which the counter restarts from 0 (RAPL's
    `max_energy_range_uj`, in the input's scaled unit), 0 for a counter that never wraps.
    The first tick only sets the baseline (no sample, not 0); a counter that goes back
    without a wrap is a read error of that tick (never a negative rate) and the new value the
    baseline; a `per` that did not move gives no sample. `stamp` is the tick's time or the
    middle of the interval (an average over it)."""

    probe: str
    channel: str
    unit: str
    input: str
    per: str = ""
    wrap: float = 0.0
    factor: float = 1.0
    stamp: Stamp = "tick"


Step = Channel | Derived | Counter


@dataclass(frozen=True, slots=True)
class ProbePlan:
    """The channels of one or more probes, evaluated in order (a derived or counter channel
    follows its inputs)."""

    steps: tuple[Step, ...] = ()

    def files(self) -> list[str]:
        """The files a tick reads, each once, in first-use order."""
        return list(dict.fromkeys(s.path for s in self.steps if isinstance(s, Channel)))

    def sources(self) -> list[tuple[str, str | None]]:
        """Each of `files()` with what a tick needs of it: None, its first line; a string, the
        lines that start with it (the common start of its channels' `line`s; '' for all)."""
        keys: dict[str, list[str]] = {}
        for s in self.steps:
            if isinstance(s, Channel):
                keys.setdefault(s.path, []).append(s.line)
        return [
            (path, None if not any(lines) else _common_start(lines) if all(lines) else "")
            for path, lines in keys.items()
        ]

    def channels(self) -> list[tuple[str, str, str]]:
        """(probe, channel, unit) of every emitted channel."""
        return [(s.probe, s.channel, s.unit) for s in self.steps if _emitted(s)]

    def __add__(self, other: ProbePlan) -> ProbePlan:
        return ProbePlan(self.steps + other.steps)

    def reader(self) -> PlanReader:
        """A sampling of this plan, with its own counter state."""
        return PlanReader(self)

    def samples(self, t_ns: int, texts: Mapping[str, str | None]) -> list[Sample]:
        """One tick's `Sample`s from the files' texts (`texts[path]`, None when unreadable:
        its channels, and the derived ones that need them, are left out). A value that does
        not parse raises `ProbeReadError` naming the file. Stateless: a counter channel has
        no previous tick here and gives nothing (sample over time with `reader()`)."""
        return PlanReader(self).samples(t_ns, texts)


def _common_start(words: Sequence[str]) -> str:
    """The longest start every word shares (character by character)."""
    first, last = min(words), max(words)
    n = 0
    while n < len(first) and first[n] == last[n]:
        n += 1
    return first[:n]


def _emitted(step: Step) -> bool:
    return not isinstance(step, Channel) or step.emit


Key = tuple[str, str]


class PlanReader:
    """One sampling of a plan: what a tick needs from the ticks before it (each counter's
    previous value and time, when each periodic file was last read, the optional files found
    unreadable). Every sampler keeps one per plan it runs."""

    def __init__(self, plan: ProbePlan) -> None:
        self.plan = plan
        self._all = plan.files()
        self._last: dict[Key, tuple[int, float]] = {}
        self._read_at: dict[str, int] = {}
        self.dropped: set[str] = set()
        channels = [s for s in plan.steps if isinstance(s, Channel)]
        # files every channel of which is optional: an unreadable one is dropped, not an error
        self.optional = {c.path for c in channels} - {c.path for c in channels if not c.optional}
        self._every_ns = {c.path: int(c.every_s * 1e9) for c in channels if c.every_s > 0}
        self._counted = {
            (s.probe, name)
            for s in plan.steps
            if isinstance(s, Counter)
            for name in (s.input, s.per)
            if name
        }

    def files(self, t_ns: int | None = None) -> list[str]:
        """The files a tick at `t_ns` reads: the plan's, less optional ones found unreadable
        and periodic ones read less than their period before (None: all of them)."""
        if not self._every_ns and not self.dropped:
            return list(self._all)
        return [
            path
            for path in self._all
            if path not in self.dropped and (t_ns is None or self._due(path, t_ns))
        ]

    def _due(self, path: str, t_ns: int) -> bool:
        every = self._every_ns.get(path)
        last = self._read_at.get(path)
        return every is None or last is None or t_ns - last >= every

    def samples(self, t_ns: int, texts: Mapping[str, str | None]) -> list[Sample]:
        """`tick`'s samples; its read errors, if any, raise one `ProbeReadError`."""
        samples, errors = self.tick(t_ns, texts)
        if errors:
            raise ProbeReadError("; ".join(message for _, message in errors))
        return samples

    def tick(
        self, t_ns: int, texts: Mapping[str, str | None]
    ) -> tuple[list[Sample], list[tuple[str, str]]]:
        """One tick's `Sample`s and read errors, (probe, message) each: a value that does not
        parse, a counter that went back. A file absent from `texts` was not read this tick;
        None: unreadable."""
        if self._every_ns or self.optional:
            texts = self._due_texts(t_ns, texts)
        values: dict[Key, Value] = {}
        stamps: dict[Key, int] = {}
        out: list[Sample] = []
        errors: list[tuple[str, str]] = []
        for step in self.plan.steps:
            key = (step.probe, step.channel)
            try:
                got = self._value(step, t_ns, texts, values, stamps)
            except ProbeReadError as exc:
                errors.append((step.probe, str(exc)))
                continue
            if got is None:
                continue
            values[key], stamps[key] = got
            if _emitted(step) and not isinstance(got[0], str):
                out.append(Sample(got[1], step.probe, step.channel, got[0], step.unit))
        for key in self._counted:
            value = values.get(key)
            if value is not None and not isinstance(value, str):
                self._last[key] = (t_ns, value)
        return out, errors

    def _due_texts(self, t_ns: int, texts: Mapping[str, str | None]) -> dict[str, str | None]:
        """The texts of the files due at `t_ns` (a periodic one is ignored between its reads;
        an optional one found unreadable is dropped)."""
        due = {
            path: text
            for path, text in texts.items()
            if path not in self.dropped and self._due(path, t_ns)
        }
        for path, text in due.items():
            self._read_at[path] = t_ns
            if text is None and path in self.optional:
                self.dropped.add(path)
        return due

    def _value(
        self,
        step: Step,
        t_ns: int,
        texts: Mapping[str, str | None],
        values: Mapping[Key, Value],
        stamps: Mapping[Key, int],
    ) -> tuple[Value, int] | None:
        if isinstance(step, Channel):
            value = self._channel_value(step, texts.get(step.path))
            return None if value is None else (value, t_ns)
        if isinstance(step, Derived):
            inputs = [values.get((step.probe, name)) for name in step.inputs]
            if any(v is None for v in inputs):
                return None
            stamp = stamps[(step.probe, step.inputs[0])] if step.inputs else t_ns
            return OPS[step.op]([v for v in inputs if v is not None], step.args), stamp
        return self._rate(step, t_ns, values)

    def _channel_value(self, step: Channel, text: str | None) -> Value | None:
        if text is None:
            return None
        line = self._pick_line(step, text)
        if line is None:
            return None
        try:
            raw = PARSERS[step.parser](line)
        except (ValueError, IndexError):
            raise ProbeReadError(f"{step.path} holds '{line[:40]}', not {step.parser}") from None
        return raw if isinstance(raw, str) else raw / step.scale

    def _pick_line(self, step: Channel, text: str) -> str | None:
        if not step.line:
            return text.strip().partition("\n")[0].strip()
        found = find_line(text, step.line)
        if found is None and not step.optional:
            raise ProbeReadError(f"{step.path} has no {step.line.rstrip(':')} line")
        return found

    def _delta(
        self, step: Counter, name: str, values: Mapping[Key, Value], may_dip: bool = False
    ) -> float | None:
        """How much counter `name` grew since the previous tick (None: no previous tick);
        `may_dip`: a fall is returned as is (a ratio's numerator, clamped), not an error."""
        key = (step.probe, name)
        now, last = values.get(key), self._last.get(key)
        if now is None or isinstance(now, str) or last is None:
            return None
        delta = counter_delta(last[1], now, step.wrap if name == step.input else 0.0)
        if delta is not None:
            return delta
        if may_dip:
            return now - last[1]
        raise ProbeReadError(
            f"{step.probe} counter {name} went back from {last[1]:g} to {now:g} "
            "(a counter only grows; the next tick starts from the new value)"
        )

    def _rate(
        self, step: Counter, t_ns: int, values: Mapping[Key, Value]
    ) -> tuple[float, int] | None:
        delta = self._delta(step, step.input, values, may_dip=bool(step.per))
        if delta is None:
            return None
        t0 = self._last[(step.probe, step.input)][0]
        stamp = (t0 + t_ns) // 2 if step.stamp == "mid" else t_ns
        if step.per:
            per = self._delta(step, step.per, values)
            if not per:  # the first tick of `per`, or no time passed in its unit
                return None
            return step.factor * min(max(delta / per, 0.0), 1.0), stamp
        dt_s = (t_ns - t0) / 1e9
        if dt_s <= 0:
            raise ProbeReadError(f"{step.probe} counter {step.input} read twice at one instant")
        return delta * step.factor / dt_s, stamp


def find_line(text: str, first: str) -> str | None:
    """The line of `text` whose first field is `first` (`cpu0` of /proc/stat, not `cpu01`),
    stripped; None when there is none."""
    start = 0
    while (at := text.find(first, start)) >= 0:
        end = at + len(first)
        if (at == 0 or text[at - 1] == "\n") and (end == len(text) or text[end] in " \t\n"):
            stop = text.find("\n", end)
            return text[at : stop if stop >= 0 else len(text)].strip()
        start = end
    return None


def counter_delta(previous: float, current: float, wrap: float) -> float | None:
    """How much a counter grew between two reads, across at most one wraparound at `wrap`
    (0: it never wraps; then a counter that went back gives None)."""
    if current >= previous:
        return current - previous
    return current + wrap - previous if wrap else None


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
    declare `name`, `available` and `info`; `read` executes the plan under `root`, keeping
    its counters' state in one `PlanReader`. An unreadable file is a `ProbeReadError` here
    (the sampler counts it); the phone's sh loop, which reads the same plan, leaves that
    channel out of the tick instead."""

    name: str
    root: SysPath
    # The sysfs trees its discovery walks, (path under the root, depth as `find -maxdepth`):
    # a transport takes them in one round trip (devices/snapshot.py) instead of one per file.
    trees: ClassVar[tuple[tuple[str, int], ...]] = ()
    # Whether its plan reads melt's own process (/proc/<pid> of the process that made it, the
    # in-process engine's): a sampler with no melt process beside the engine (a phone's sh
    # loop, where the engine is a server) has nothing of it to read.
    reads_own_process: ClassVar[bool] = False
    _cached: ProbePlan | None = None
    _files: dict[str, SysPath] | None = None
    _reader: PlanReader | None = None

    def plan(self) -> ProbePlan:
        if self._cached is None:
            self._cached = self._plan()
        return self._cached

    @abstractmethod
    def _plan(self) -> ProbePlan:
        """Discover the channels (through `root`'s file view)."""

    def reader(self) -> PlanReader:
        """This probe's sampling of its plan (its counters' previous tick)."""
        if self._reader is None:
            self._reader = self.plan().reader()
        return self._reader

    def read(self, t_ns: int) -> list[Sample]:
        reader = self.reader()
        if self._files is None:  # `root / path`: absolute paths as discovery found them
            self._files = {path: self.root / path for path in reader.plan.files()}
        texts, errors = read_texts([(path, self._files[path]) for path in reader.files(t_ns)])
        if errors and any(text is None and p not in reader.optional for p, text in texts.items()):
            raise ProbeReadError("; ".join(errors))
        return reader.samples(t_ns, texts)
