"""What the probes saw during one run, and the metrics computed from it: the record a
run's summary stores (`RunSignals.as_dict()`) and the interference of other work."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from melt.metrics.energy import TurnWindows
from melt.metrics.interference import Interference, assess_interference
from melt.metrics.signals import MeasuredTurnWindow, RunSignalMetrics
from melt.metrics.timeline import series_document
from melt.metrics.turn import turn_metrics
from melt.probes import ProbeInfo
from melt.probes.cpu import is_core
from melt.probes.sampler import SamplerStats
from melt.traces import TurnTrace
from melt.traces.sample import Sample


@dataclass(frozen=True, slots=True)
class RunSignals:
    """What the probes saw during one run, and the metrics computed from it."""

    sampling: SamplerStats
    probes: tuple[ProbeInfo, ...]
    unavailable: dict[str, str]
    energy_unavailable: str | None
    thermal_unavailable: str | None
    windows: dict[str, Any]
    metrics: RunSignalMetrics
    samples: tuple[Sample, ...] = ()
    interference: Interference | None = None

    def series_document(self) -> dict[str, dict[str, Any]]:
        """Every sample series, keyed `probe/channel` (metrics.timeline.series_document: t_ns
        on the device's monotonic clock; `sampling.wall_anchor_ns` places `started_ns` in
        calendar time)."""
        return series_document(self.samples, {p.name: p.source for p in self.probes})

    def as_dict(self) -> dict[str, Any]:
        return {
            "sampling": self.sampling.as_dict(),
            "probes": [p.as_dict() for p in self.probes],
            "unavailable": self.unavailable,
            "energy_unavailable": self.energy_unavailable,
            "thermal_unavailable": self.thermal_unavailable,
            "windows": self.windows,
            **self.metrics.as_dict(),
            "interference": None if self.interference is None else self.interference.as_dict(),
        }


def run_interference(
    samples: Sequence[Sample], traces: Sequence[TurnTrace], throttled: bool
) -> Interference | None:
    """Other work on the device while the measured turns ran (metrics.interference): the
    cores busy per /proc/stat against the engine process's own CPU seconds, and steal, over
    the turns' windows (submit → end)."""
    windows = [(t.submit_ns, t.end_ns) for t in traces if t.end_ns > t.submit_ns]
    if not windows:
        return None
    cpu = [t.cpu_time_ns for t in traces]
    engine_cpu_s = None if any(c is None for c in cpu) else sum(c or 0 for c in cpu) / 1e9

    def inside(t_ns: int) -> bool:
        return any(start <= t_ns <= end for start, end in windows)

    busy: dict[str, list[float]] = {}
    steal: list[float] = []
    for s in samples:
        if s.probe != "cpu" or not inside(s.t_ns):
            continue
        if is_core(s.channel):
            busy.setdefault(s.channel, []).append(s.value)
        elif s.channel == "steal":
            steal.append(s.value)
    window_s = sum(end - start for start, end in windows) / 1e9
    return assess_interference(
        busy, steal, engine_cpu_s, window_s, max(len(busy), 1), throttled, "the measured turns"
    )


def measured_window(trace: TurnTrace) -> MeasuredTurnWindow:
    return MeasuredTurnWindow(
        conversation_index=trace.conversation_index,
        windows=TurnWindows(
            submit_ns=trace.submit_ns,
            prefill_start_ns=trace.prefill_start_ns,
            prefill_done_ns=trace.prefill_done_ns,
            first_token_ns=trace.token_ns[0] if trace.token_ns else None,
            last_token_ns=trace.token_ns[-1] if trace.token_ns else None,
            end_ns=trace.end_ns,
            prompt_tokens_evaluated=trace.prompt_tokens_evaluated,
            generated_tokens=trace.generated_tokens,
        ),
        decode_tok_per_s=turn_metrics(trace).decode_tok_per_s,
    )
