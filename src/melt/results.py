"""What a bench hands back in memory: value objects only, no logic that runs anything.

`report/` prints these (`melt bench --json`) and the execution package builds them; both
import this module, so `report/` needs nothing from `execution/`. Everything here was also
written to the store as it was measured; the store, not these objects, is the record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from melt.config import Cell
from melt.metrics.consistency import DecodeConsistency
from melt.metrics.run import TurnAggregates
from melt.metrics.stats import Aggregate
from melt.models import Artifact

if TYPE_CHECKING:
    from melt.execution.monitor_signals import RunSignals
    from melt.execution.spec import RunSpec
    from melt.workloads import Workload

STATUS_COMPLETED = "completed"
STATUS_INTERRUPTED = "interrupted"
STATUS_FAILED = "failed"
STATUS_TERMINATED = "terminated"


@dataclass(frozen=True, slots=True)
class RunResult:
    run_id: int
    repeat_index: int
    status: str
    aggregates: TurnAggregates
    consistency: DecodeConsistency | None
    load_time_s: float | None
    model_bytes: int | None
    model_params: int | None
    model_rss_bytes: int | None
    peak_rss_bytes: int | None
    peak_rss_source: str
    signals: RunSignals | None = None
    device_notes: tuple[str, ...] = ()  # e.g. USB powered the phone: its battery energy is off
    key: str | None = None  # the fleet's name for the run (RunSpec.key)


@dataclass(slots=True)
class CellResult:
    """All runs of one variant × setting, and their pooled aggregates."""

    cell: Cell
    artifact: Artifact
    runs: list[RunResult] = field(default_factory=list)
    aggregates: TurnAggregates | None = None
    run_decode_tok_per_s: Aggregate | None = None

    @property
    def bits_per_weight(self) -> float | None:
        run = next((r for r in self.runs if r.model_params and r.model_bytes), None)
        return None if run is None else 8 * run.model_bytes / run.model_params


@dataclass(slots=True)
class BenchResult:
    experiment_id: int
    store: str
    framework: str
    framework_version: str
    device: dict[str, Any]
    workload: Workload
    warmup_turns: int
    repeats: int
    sustained_s: float | None = None
    cells: list[CellResult] = field(default_factory=list)


DEVICE_COMPLETED = "completed"
DEVICE_FAILED = "failed"
DEVICE_INTERRUPTED = "interrupted"


@dataclass(slots=True)
class DeviceOutcome:
    """What one device of a fleet did with its share."""

    device: str
    status: str = DEVICE_COMPLETED
    error: str | None = None
    result: BenchResult | None = None
    runs: list[RunResult] = field(default_factory=list)
    not_run: list[RunSpec] = field(default_factory=list)

    @property
    def unfinished(self) -> list[RunResult]:
        """Runs that ended otherwise than completed and no retry of theirs completed."""
        done = {r.key for r in self.runs if r.status == STATUS_COMPLETED}
        return [r for r in self.runs if r.status != STATUS_COMPLETED and r.key not in done]


@dataclass(slots=True)
class FleetResult:
    experiment_id: int
    store: str
    outcomes: list[DeviceOutcome]

    @property
    def all_completed(self) -> bool:
        return all(
            o.status == DEVICE_COMPLETED and not o.unfinished and not o.not_run
            for o in self.outcomes
        )
