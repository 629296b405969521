from __future__ import annotations

import errno
import threading
import time
from pathlib import Path

import pytest

from melt.errors import MeltError
from melt.probes import make_probe
from melt.probes.base import Availability, ProbeInfo
from melt.probes.sampler import MAX_RATE_HZ, Sampler, check_rate
from melt.traces.sample import Provenance, Sample


def _measure(sampler: Sampler, seconds: float) -> None:
    """Keep the sampler running for `seconds` (the measured interval, not a synchronisation)."""
    sampler.start()
    time.sleep(seconds)


def test_real_probes_at_a_rate_on_the_monotonic_clock() -> None:
    batches: list[list[Sample]] = []
    probes = [make_probe("cpu"), make_probe("memory")]
    sampler = Sampler(probes, rate_hz=20, sink=batches.append, flush_s=0.2)
    before_wall = time.time_ns()
    _measure(sampler, 1.0)
    stats = sampler.stop()
    assert abs(stats.wall_anchor_ns - before_wall) < 1e8
    assert stats.duration_s >= 1.0
    # Every 50 ms deadline is either served (a tick) or counted as dropped, however loaded the
    # machine is; start() and stop() add one tick each.
    deadlines = stats.ticks - 2 + stats.dropped
    assert abs(deadlines - stats.duration_s * 20) <= 2
    assert stats.achieved_hz == pytest.approx((stats.ticks - 1) / stats.duration_s)
    assert 0 < stats.cpu_s < stats.duration_s
    times = [s.t_ns for s in sampler.samples]
    assert times == sorted(times)
    assert stats.started_ns <= times[0] and times[-1] <= stats.stopped_ns
    assert len(batches) >= 3
    assert [s for b in batches for s in b] == sampler.samples
    channels = {(s.probe, s.channel) for s in sampler.samples}
    assert ("memory", "process_rss") in channels and ("cpu", "cpu") in channels


class SlowProbe:
    """A probe whose read takes `read_s` of wall time, like a slow I2C sensor read."""

    name = "slow"

    def __init__(self, read_s: float) -> None:
        self.read_s = read_s

    def available(self) -> Availability:
        return Availability.found("always")

    def info(self) -> ProbeInfo:
        return ProbeInfo("slow", "none", "1", Provenance.MEASURED, "test", "1")

    def read(self, t_ns: int) -> list[Sample]:
        time.sleep(self.read_s)
        return [Sample(t_ns, self.name, "x", 1.0, "1")]


def test_overrunning_reads_count_dropped_ticks() -> None:
    sampler = Sampler([SlowProbe(0.25)], rate_hz=10)
    _measure(sampler, 1.2)
    stats = sampler.stop()
    # each read spans 2.5 periods: about 1.5 deadlines pass unserved per tick
    assert stats.dropped >= 3
    assert stats.achieved_hz is not None and stats.achieved_hz < 6


def test_read_errors_are_counted_and_other_probes_continue(tmp_path: Path) -> None:
    (tmp_path / "proc").mkdir()
    stat = tmp_path / "proc" / "stat"
    stat.write_text("cpu  1 0 1 1 0 0 0 0 0 0\n")
    broken = make_probe("cpu", tmp_path)
    stat.write_text("garbage\n")
    sampler = Sampler([broken, make_probe("memory")], rate_hz=20)
    _measure(sampler, 0.3)
    stats = sampler.stop()
    assert stats.read_errors["cpu"] == stats.ticks
    assert "proc/stat" in stats.last_error["cpu"]
    available = [s for s in sampler.samples if s.channel == "system_available"]
    assert len(available) == stats.ticks


def test_rate_must_be_positive() -> None:
    with pytest.raises(MeltError, match="positive"):
        Sampler([], rate_hz=0)


@pytest.mark.parametrize(
    ("rate", "message"),
    [
        (float("nan"), "--probe-rate must be a positive number of Hz \\(got nan\\)"),
        (float("inf"), "--probe-rate must be a positive number of Hz \\(got inf\\)"),
        (0.0, "must be a positive number"),
        (-5.0, "must be a positive number"),
        (MAX_RATE_HZ * 1.01, f"above the {MAX_RATE_HZ:g} Hz the sampler can keep"),
        (1e5, "pass at most"),
    ],
)
def test_rates_the_sampler_cannot_keep_are_refused(rate: float, message: str) -> None:
    with pytest.raises(MeltError, match=message):
        check_rate(rate)


@pytest.mark.parametrize("rate", [0.5, 10.0, MAX_RATE_HZ])
def test_rates_it_can_keep_pass(rate: float) -> None:
    assert check_rate(rate) == rate


class CountingProbe:
    """A probe of one constant channel; `fail_on` makes that read end the sampler's thread
    (after burning `burn_s` of CPU), as an unexpected error in the thread would."""

    name = "count"

    def __init__(self, fail_on: int | None = None, burn_s: float = 0.0) -> None:
        self.reads = 0
        self.fail_on = fail_on
        self.burn_s = burn_s
        self.failed = threading.Event()

    def available(self) -> Availability:
        return Availability.found("always")

    def info(self) -> ProbeInfo:
        return ProbeInfo("count", "none", "1", Provenance.MEASURED, "test", "1")

    def read(self, t_ns: int) -> list[Sample]:
        self.reads += 1
        if self.reads == self.fail_on:
            end = time.thread_time() + self.burn_s
            while time.thread_time() < end:
                pass
            self.failed.set()
            raise SystemExit("probe ended the thread")
        return [Sample(t_ns, self.name, "x", float(self.reads), "1")]


class FailingSink:
    """A store that is full for its first `failures` batches (every batch when None)."""

    def __init__(self, failures: int | None) -> None:
        self.failures = failures
        self.calls = 0
        self.stored: list[Sample] = []
        self.called_twice = threading.Event()

    def __call__(self, batch: list[Sample]) -> None:
        self.calls += 1
        if self.calls >= 2:
            self.called_twice.set()
        if self.failures is None or self.calls <= self.failures:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.stored += batch


def test_a_sink_that_keeps_failing_is_in_the_record() -> None:
    sink = FailingSink(failures=None)
    sampler = Sampler([CountingProbe()], rate_hz=50, sink=sink, flush_s=0.05)
    sampler.start()
    assert sink.called_twice.wait(timeout=10)
    stats = sampler.stop()
    assert stats.error == "sink failed: OSError: [Errno 28] No space left on device"
    assert stats.unflushed == len(sampler.samples) > 0 and sink.stored == []
    record = stats.store_columns()["read_errors"]
    assert record["sampler_error"] == stats.error
    assert record["unflushed_samples"] == stats.unflushed
    assert stats.as_dict()["unflushed_samples"] == stats.unflushed
    assert stats.cpu_s > 0


def test_a_sink_that_recovers_loses_nothing() -> None:
    sink = FailingSink(failures=2)
    sampler = Sampler([CountingProbe()], rate_hz=50, sink=sink, flush_s=0.05)
    sampler.start()
    assert sink.called_twice.wait(timeout=10)
    stats = sampler.stop()
    assert sink.stored == sampler.samples
    assert stats.unflushed == 0
    assert stats.error is not None and "No space left" in stats.error


def test_a_thread_that_dies_says_so_with_its_cpu_time_and_unserved_deadlines() -> None:
    probe = CountingProbe(fail_on=3, burn_s=0.05)
    sampler = Sampler([probe], rate_hz=50)
    sampler.start()
    assert probe.failed.wait(timeout=10)
    time.sleep(0.3)  # the measured interval after the thread died
    stats = sampler.stop()
    assert stats.error == "sampler thread died: SystemExit: probe ended the thread"
    assert stats.cpu_s >= 0.05
    # every 20 ms deadline is served or counted as dropped, including those after the death
    assert abs(stats.ticks - 2 + stats.dropped - stats.duration_s * 50) <= 2
