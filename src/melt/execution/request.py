"""What the user asked of one `melt bench`, before anything is checked, and the progress
events a user interface receives while it runs.

A `BenchRequest` is plain, picklable data: every option `melt bench` accepts lives here (or
in its cells), and every run of the bench carries the whole request in its `RunSpec`, so no
execution path (in process, a thread per device, a Ray task on another controller) can drop
an option. A secret never lives here: an API key travels as the name of its environment
variable (`--api-key-env`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from melt.config import Cell
from melt.execution.monitor_settings import ProbeSettings
from melt.frameworks import FrameworkOptions
from melt.metrics.turn import TurnMetrics
from melt.results import RunResult
from melt.runners.base import RunOptions
from melt.traces import TurnTrace
from melt.workloads import BUILTIN_WORKLOAD, Conversation


@dataclass(frozen=True, slots=True)
class BenchRequest:
    """What the user asked for, before anything is checked."""

    cells: tuple[Cell, ...]
    framework: str = "llama.cpp"
    framework_options: FrameworkOptions = field(default_factory=FrameworkOptions)
    workload: str = BUILTIN_WORKLOAD
    conversations: int | None = None
    repeats: int = 1
    warmup_turns: int = 1
    store: str | None = None
    name: str = "bench"
    command: str = "melt bench"
    config: dict[str, Any] = field(default_factory=dict)
    probes: ProbeSettings = field(default_factory=ProbeSettings)
    sustained_s: float | None = None
    device: str = "local"
    devices_file: Path | None = None
    accept_new_host_key: bool = False
    allow_oversubscribe: bool = False
    run_options: RunOptions = field(default_factory=RunOptions)
    llama_cpp_dir: Path | None = None
    """A llama.cpp checkout whose converter makes GGUF from a Hugging Face folder."""
    run_settings: dict[str, Any] = field(default_factory=dict)
    """Kept in each run's settings JSON (where a fleet placed the run)."""
    reconcile: bool = False
    """Run llama.cpp's llama-bench on the device after each run, at its settings and shape."""


class BenchObserver(Protocol):
    """Progress events for a user interface; the executor never prints."""

    def preparing(self, message: str) -> None:
        """Work before the first run (making a quantized variant), as one status line."""
        ...

    def run_started(self, run_id: int, index: int, total: int, label: str) -> None: ...

    def conversation_started(
        self, conversation: Conversation, index: int, total: int, warmup: bool
    ) -> None: ...

    def turn_done(self, trace: TurnTrace, metrics: TurnMetrics) -> None: ...

    def run_finished(self, result: RunResult) -> None: ...


class QuietObserver:
    """No terminal (a Ray worker, a planning step): records the runs, prints nothing."""

    def __init__(self) -> None:
        self.runs: list[RunResult] = []

    def preparing(self, message: str) -> None: ...

    def run_started(self, run_id: int, index: int, total: int, label: str) -> None: ...

    def conversation_started(
        self, conversation: Conversation, index: int, total: int, warmup: bool
    ) -> None: ...

    def turn_done(self, trace: TurnTrace, metrics: TurnMetrics) -> None: ...

    def run_finished(self, result: RunResult) -> None:
        self.runs.append(result)
