"""What an importer produces: runs with turns, op timings, event intervals and power
captures, plus every line it could not read (with its line number)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from melt.metrics.ops import OpTiming

HEAD_CHARS = 65536


@dataclass(frozen=True, slots=True)
class Malformed:
    """A line that looked like a record of the format but could not be read."""

    path: str
    line: int
    text: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}: {self.text.strip()[:80]}"


@dataclass(frozen=True, slots=True)
class ImportedTurn:
    """One prompt as a foreign tool reported it: token counts and durations (ms) from the
    tool's own counters, which place nothing on a clock."""

    index: int
    prompt_tokens: int
    generated_tokens: int
    prefill_ms: float | None
    decode_ms: float | None
    total_ms: float | None = None
    decode_steps: int | None = None
    prefill_tok_per_s: float | None = None
    decode_tok_per_s: float | None = None
    counters: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Interval:
    """A named event from a `.start` to an `.end` timestamp (ns, the tool's clock)."""

    name: str
    start_ns: int
    end_ns: int

    @property
    def duration_s(self) -> float:
        return (self.end_ns - self.start_ns) / 1e9


@dataclass(frozen=True, slots=True)
class PowerTrace:
    """Power samples of one rail: times in seconds on the capture's clock (epoch seconds
    when the capture says when it started), power in mW, current in mA and voltage in V
    when the capture has them."""

    source: str
    rail: str
    t_s: tuple[float, ...]
    power_mw: tuple[float, ...]
    current_ma: tuple[float, ...] | None = None
    voltage_v: tuple[float, ...] | None = None


@dataclass
class ImportedRun:
    """One run of a foreign tool: what it measured and the settings it ran with."""

    label: str
    sources: list[str] = field(default_factory=list)
    framework: str = "unknown"
    device: str = "unknown"
    model: str = "unknown"
    repeat_index: int = 0
    settings: dict[str, Any] = field(default_factory=dict)
    turns: list[ImportedTurn] = field(default_factory=list)
    ops: list[OpTiming] = field(default_factory=list)
    intervals: list[Interval] = field(default_factory=list)
    power: list[PowerTrace] = field(default_factory=list)
    thermal_c: dict[str, tuple[float, float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def merge(self, other: ImportedRun) -> None:
        """Add what another file of the same run measured."""
        self.sources += other.sources
        self.turns += other.turns
        self.ops += other.ops
        self.intervals += other.intervals
        self.power += other.power
        self.thermal_c.update(other.thermal_c)
        self.notes += other.notes
        for key, value in other.settings.items():
            self.settings.setdefault(key, value)
        for name in ("framework", "model"):
            if getattr(self, name) == "unknown":
                setattr(self, name, getattr(other, name))

    @property
    def empty(self) -> bool:
        return not (self.turns or self.ops or self.intervals or self.power or self.thermal_c)


@dataclass
class ImportResult:
    """Runs read from one path, what was found, and every line that could not be read."""

    format: str
    runs: list[ImportedRun] = field(default_factory=list)
    malformed: list[Malformed] = field(default_factory=list)
    found: list[str] = field(default_factory=list)


class Importer(Protocol):
    """One foreign format, read from files or (`reads_folders`) from folders. `sniff` is
    asked only about paths of its kind and looks at a file's first `HEAD_CHARS` characters
    (a folder gets an empty head) to say whether this format is there."""

    name: str
    description: str
    reads_folders: bool

    def sniff(self, path: Path, head: str) -> bool: ...

    def read(self, path: Path) -> ImportResult: ...


def read_text(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


def read_head(path: Path) -> str:
    with path.open(encoding="utf-8", errors="replace") as fh:
        return fh.read(HEAD_CHARS)
