"""What an importer produces: runs with turns, op timings, event intervals and power
captures, plus every line it could not read (with its line number)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from melt.errors import MeltError
from melt.files import decode_utf8
from melt.metrics.ops import OpTiming
from melt.traces.importers.sources import read_source, read_start

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

    def problem(self) -> str | None:
        """Why this turn cannot be stored, or None: a stored turn needs a token count and a
        duration, and no figure may be negative or NaN (a turn of Nones is no measurement)."""
        figures = {
            "prefill_ms": self.prefill_ms,
            "decode_ms": self.decode_ms,
            "total_ms": self.total_ms,
            "prefill_tok_per_s": self.prefill_tok_per_s,
            "decode_tok_per_s": self.decode_tok_per_s,
        }
        bad = [k for k, v in figures.items() if v is not None and not v >= 0]
        if self.prompt_tokens < 0 or self.generated_tokens < 0:
            bad.insert(0, "token counts")
        if bad:
            return f"negative or NaN {', '.join(bad)}"
        if self.prompt_tokens == 0 and self.generated_tokens == 0:
            return "no prompt or generated token counts"
        if self.prefill_ms is None and self.decode_ms is None and self.total_ms is None:
            return "no prefill, decode or total duration"
        return None


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

    def drop_invalid(self) -> list[str]:
        """Remove turns with a `problem()` and power traces without samples; say what went."""
        dropped = [f"turn {t.index} refused: {p}" for t in self.turns if (p := t.problem())]
        dropped += [f"power rail '{p.rail}' has no samples" for p in self.power if not p.t_s]
        self.turns = [t for t in self.turns if t.problem() is None]
        self.power = [p for p in self.power if p.t_s]
        return dropped


@dataclass
class ImportResult:
    """Runs read from one path, what was found, and every line that could not be read."""

    format: str
    runs: list[ImportedRun] = field(default_factory=list)
    malformed: list[Malformed] = field(default_factory=list)
    found: list[str] = field(default_factory=list)


def check_result(result: ImportResult, path: Path, description: str) -> ImportResult:
    """Keep only what can be stored (`ImportedRun.drop_invalid`, said in each run's notes);
    a result with nothing left is a `MeltError` naming the file and the format, so an import
    that recognised nothing stores nothing."""
    refused: list[str] = []
    for run in result.runs:
        dropped = run.drop_invalid()
        run.notes += [f"{run.label}: {reason}" for reason in dropped]
        refused += dropped
    if any(not run.empty for run in result.runs):
        return result
    evidence = refused[:2]
    if result.malformed:
        evidence.append(f"{len(result.malformed)} malformed line(s), first {result.malformed[0]}")
    evidence = evidence or result.found[:2]
    raise MeltError(
        f"'{path}' has no {description} that melt can store (--format {result.format}: "
        f"{'; '.join(evidence) or 'nothing found'}); check the file or pass another --format"
    )


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
    """An import source's text (sources.py checks what may be read): strict UTF-8, or a
    one-line error naming the place."""
    return decode_utf8(read_source(path), path, "import source")


def read_head(path: Path) -> str:
    """The first `HEAD_CHARS` characters (at most 4 bytes each) for sniffing, undecodable
    bytes replaced."""
    return read_start(path, 4 * HEAD_CHARS).decode("utf-8", errors="replace")[:HEAD_CHARS]
