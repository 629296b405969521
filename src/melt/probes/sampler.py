"""The Sampler: reads probes at a fixed rate on the monotonic clock, in its own thread.

Ticks are scheduled at `start + k × period`; a tick that starts after the next deadline has
passed (a slow read, a busy machine) skips the missed slots and counts them as `dropped`. One
wall-clock anchor is taken next to the monotonic start so samples can be placed in calendar
time. Batches of samples go to `sink` (e.g. the store) every `flush_s` and at stop, so a crash
loses at most one batch. The sampler measures its own cost: the CPU time of its thread.

A probe whose sensor streams on its own clock (an external power monitor) also has `start()`
and `stop()`: the sampler starts it before the first read and stops it before the last one,
so that last read drains the stream.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from melt.errors import MeltError
from melt.probes.base import Probe, ProbeReadError
from melt.traces.sample import Sample

log = logging.getLogger(__name__)

DEFAULT_RATE_HZ = 10.0
DEFAULT_FLUSH_S = 0.5
# The highest rate `check_rate` accepts, from benchmarks/sampler_rate.py on this project's
# 2-core test machine (load average 10: seven sessions share it), with every default probe
# of the jetson_orin_nano fixture root plus the real /proc (cpu, cpufreq, ina3221, memory,
# thermal): one tick costs 0.9-1.6 ms of the sampler thread's CPU; 100 Hz was kept (0.3 % of
# deadlines dropped, 15 % of one core), 200 Hz was not (11 % dropped, 24 % of a core), and
# 1000 Hz reached 308 Hz (69 % dropped). Past 100 Hz the sampler misses its own deadlines
# and takes a share of the CPU the measured model needs.
MAX_RATE_HZ = 100.0

Sink = Callable[[list[Sample]], None]


def check_rate(rate_hz: float, flag: str = "--probe-rate") -> float:
    """`rate_hz` if the sampler can keep it, else a `MeltError`: NaN, infinite, zero and
    negative rates are meaningless, and rates above `MAX_RATE_HZ` cost more CPU than the
    measurement can afford (see `MAX_RATE_HZ`)."""
    if not math.isfinite(rate_hz) or rate_hz <= 0:
        raise MeltError(
            f"{flag} must be a positive number of Hz (got {rate_hz}); e.g. {DEFAULT_RATE_HZ:g}"
        )
    if rate_hz > MAX_RATE_HZ:
        raise MeltError(
            f"{flag} {rate_hz:g} Hz is above the {MAX_RATE_HZ:g} Hz the sampler can keep "
            f"without slowing what it measures; pass at most {MAX_RATE_HZ:g}"
        )
    return rate_hz


@runtime_checkable
class StreamingProbe(Protocol):
    """The optional part of a probe that collects on its own thread between start and stop."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


THREAD_CPU_SOURCE = "time.thread_time() of the sampler thread"


@dataclass(frozen=True, slots=True)
class SamplerStats:
    """How the sampling went: achieved rate, dropped ticks, read errors and its own cost."""

    target_hz: float
    wall_anchor_ns: int
    started_ns: int
    stopped_ns: int
    ticks: int
    dropped: int
    samples: int
    # The sampler's own CPU seconds; None when it could not be measured (never 0.0 for that).
    cpu_s: float | None
    read_errors: dict[str, int] = field(default_factory=dict)
    last_error: dict[str, str] = field(default_factory=dict)
    # Why the sampling thread or its sink failed (None: it did not), and how many samples
    # never reached the sink because of it: the store lacks them, the record says so.
    error: str | None = None
    unflushed: int = 0
    cpu_source: str = THREAD_CPU_SOURCE

    @property
    def duration_s(self) -> float:
        return (self.stopped_ns - self.started_ns) / 1e9

    @property
    def achieved_hz(self) -> float | None:
        """Ticks per second between the first and the last tick."""
        return (self.ticks - 1) / self.duration_s if self.ticks > 1 and self.duration_s else None

    @property
    def cpu_s_per_s(self) -> float | None:
        """Sampler CPU seconds per second of sampling (its share of one core)."""
        if self.cpu_s is None or not self.duration_s:
            return None
        return self.cpu_s / self.duration_s

    def as_dict(self) -> dict[str, Any]:
        return {
            "target_hz": self.target_hz,
            "achieved_hz": self.achieved_hz,
            "wall_anchor_ns": self.wall_anchor_ns,
            "started_ns": self.started_ns,
            "stopped_ns": self.stopped_ns,
            "duration_s": self.duration_s,
            "ticks": self.ticks,
            "dropped": self.dropped,
            "samples": self.samples,
            "cpu_s": self.cpu_s,
            "cpu_s_per_s": self.cpu_s_per_s,
            "cpu_source": self.cpu_source,
            "read_errors": self.read_errors,
            "last_error": self.last_error,
            "error": self.error,
            "unflushed_samples": self.unflushed,
        }

    def store_columns(self) -> dict[str, Any]:
        """The `sampling` table's columns this record fills (`melt.store.samples.add_sampling`)."""
        names = ("target_hz", "achieved_hz", "wall_anchor_ns", "started_ns", "stopped_ns")
        names += ("ticks", "dropped", "cpu_s", "cpu_s_per_s")
        return {
            **{name: getattr(self, name) for name in names},
            "read_errors": {
                "counts": self.read_errors,
                "last": self.last_error,
                "sampler_error": self.error,
                "unflushed_samples": self.unflushed,
                "cpu_source": self.cpu_source,
            },
        }


class Sampler:
    """`start()` takes the first reading before returning; `stop()` takes a last one, so the
    samples cover everything between the two calls."""

    def __init__(
        self,
        probes: Sequence[Probe],
        rate_hz: float = DEFAULT_RATE_HZ,
        sink: Sink | None = None,
        flush_s: float = DEFAULT_FLUSH_S,
    ) -> None:
        check_rate(rate_hz)
        self.probes = tuple(probes)
        self.rate_hz = rate_hz
        self.period_ns = round(1e9 / rate_hz)
        self.sink = sink
        self.flush_ns = round(flush_s * 1e9)
        self.samples: list[Sample] = []
        self._pending: list[Sample] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ticks = 0
        self._dropped = 0
        self._cpu_s = 0.0
        self._errors: dict[str, int] = {}
        self._last_error: dict[str, str] = {}
        self._error: str | None = None
        self._died = False
        self._wall_anchor_ns = 0
        self._started_ns = 0
        self._next_deadline = 0
        self._stopped_ns = 0

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("sampler already started")
        self._wall_anchor_ns = time.time_ns()
        self._started_ns = time.monotonic_ns()
        for probe in self._streaming():
            try:
                probe.start()
            except ProbeReadError as exc:
                self._record_error(probe.name, str(exc))
        self._tick(self._started_ns)
        self._thread = threading.Thread(target=self._run, name="melt-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> SamplerStats:
        if self._thread is None:
            raise RuntimeError("sampler was not started")
        self._stop.set()
        self._thread.join()
        for probe in self._streaming():
            probe.stop()
        self._stopped_ns = time.monotonic_ns()
        if self._died:  # the deadlines after the thread died were not served
            self._dropped += max(0, (self._stopped_ns - self._next_deadline) // self.period_ns)
        self._tick(self._stopped_ns)
        self._flush()
        return self.stats()

    def stats(self) -> SamplerStats:
        return SamplerStats(
            target_hz=self.rate_hz,
            wall_anchor_ns=self._wall_anchor_ns,
            started_ns=self._started_ns,
            stopped_ns=self._stopped_ns,
            ticks=self._ticks,
            dropped=self._dropped,
            samples=len(self.samples),
            cpu_s=self._cpu_s,
            read_errors=dict(self._errors),
            last_error=dict(self._last_error),
            error=self._error,
            unflushed=len(self._pending) if self.sink is not None else 0,
        )

    def _streaming(self) -> list[Any]:
        return [p for p in self.probes if isinstance(p, StreamingProbe)]

    def _run(self) -> None:
        """The thread: its CPU time is taken however it ends, and an exception that ends it
        becomes the record's `error` instead of a silent stop."""
        cpu_start = time.thread_time()
        self._next_deadline = self._started_ns + self.period_ns
        try:
            self._loop()
        except BaseException as exc:  # whatever ends the thread is recorded, not re-raised
            log.exception("the sampler thread failed")
            self._error = f"sampler thread died: {type(exc).__name__}: {exc}"
            self._died = True
        finally:
            self._cpu_s = time.thread_time() - cpu_start

    def _loop(self) -> None:
        last_flush = self._started_ns
        while not self._stop.is_set():
            now = time.monotonic_ns()
            deadline = self._next_deadline
            if now < deadline:
                if self._stop.wait((deadline - now) / 1e9):
                    break
                continue
            missed = (now - deadline) // self.period_ns
            self._dropped += missed
            self._next_deadline = deadline + (missed + 1) * self.period_ns
            self._tick(now)
            if now - last_flush >= self.flush_ns:
                self._flush()
                last_flush = now

    def _tick(self, t_ns: int) -> None:
        self._ticks += 1
        for probe in self.probes:
            try:
                got = probe.read(t_ns)
            except ProbeReadError as exc:
                self._record_error(probe.name, str(exc))
                continue
            except Exception as exc:
                log.exception("probe %s failed", probe.name)
                self._record_error(probe.name, f"{type(exc).__name__}: {exc}")
                continue
            self.samples.extend(got)
            self._pending.extend(got)

    def _record_error(self, probe: str, message: str) -> None:
        self._errors[probe] = self._errors.get(probe, 0) + 1
        self._last_error[probe] = message

    def _flush(self) -> None:
        """Hand the pending samples to the sink. A sink that fails (a full disk, a locked
        store) keeps them pending for the next flush, and its error is recorded: what never
        got through is counted in `SamplerStats.unflushed`."""
        if not self._pending or self.sink is None:
            return
        batch, self._pending = self._pending, []
        try:
            self.sink(batch)
        except Exception as exc:
            log.warning("the sampler's sink failed, %d sample(s) kept pending: %s", len(batch), exc)
            self._error = f"sink failed: {type(exc).__name__}: {exc}"
            self._pending = batch + self._pending
