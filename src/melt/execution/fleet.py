"""One controller, many devices: a bench planned once (one experiment row), then run on
every selected device at once, one thread per device and one run at a time on each (two runs
on one device would disturb each other's figures).

A device that fails (unreachable, connection lost) ends only its own thread: the run it was in
is marked failed with the reason by the session, the runs it never started are listed as not
run with that reason, and the other devices go on. With `--retries N` the thread first tries
again, from the run that failed, while that run has attempts left (`execution/retry.py`, the
policy the Ray path shares); a run the store holds as completed is never run again.

A signal (Ctrl-C, SIGTERM) lands in the main thread; `melt.interrupts` keeps it pending,
every device thread raises it at its next turn boundary (its run is marked interrupted), and
the main thread waits for all of them before it raises the signal itself. It waits on an
event each thread sets as its very last step, not on `Thread.join`: on CPython 3.11 a signal
that interrupts `join` marks a thread that is still running as stopped (bpo-45274's handler
releases the running thread's state lock), so the main thread would go on and exit while a
device thread was still writing its run's final status.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from melt.errors import MeltError
from melt.execution.bench import run_on_device
from melt.execution.plan import SharedPlan, prepare
from melt.execution.request import BenchObserver, BenchRequest
from melt.execution.retry import Retries, check_retries
from melt.execution.spec import RunSpec, plan_runs
from melt.interrupts import Terminated, raise_if_pending
from melt.metrics.turn import TurnMetrics
from melt.results import (
    DEVICE_COMPLETED,
    DEVICE_FAILED,
    DEVICE_INTERRUPTED,
    DeviceOutcome,
    FleetResult,
    RunResult,
)
from melt.traces import TurnTrace
from melt.workloads import Conversation

RETRY_PAUSE_S = 1.0  # before a device's first retry; doubled for each one after
JOIN_POLL_S = 0.2  # how often the main thread wakes to take a signal while devices run


ObserverFactory = Callable[[str], BenchObserver]


class _Tracking:
    """Passes every event on to the device's observer and keeps what the outcome needs."""

    def __init__(self, inner: BenchObserver, outcome: DeviceOutcome) -> None:
        self.inner = inner
        self.outcome = outcome

    def preparing(self, message: str) -> None:
        self.inner.preparing(message)

    def run_started(self, run_id: int, index: int, total: int, label: str) -> None:
        self.inner.run_started(run_id, index, total, label)

    def conversation_started(
        self, conversation: Conversation, index: int, total: int, warmup: bool
    ) -> None:
        self.inner.conversation_started(conversation, index, total, warmup)

    def turn_done(self, trace: TurnTrace, metrics: TurnMetrics) -> None:
        self.inner.turn_done(trace, metrics)

    def run_finished(self, result: RunResult) -> None:
        self.outcome.runs.append(result)
        self.inner.run_finished(result)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted by the user (Ctrl-C)"
    if isinstance(exc, Terminated):
        return str(exc)
    return str(exc) if isinstance(exc, MeltError) else f"{type(exc).__name__}: {exc}"


def _run_device(
    planned: list[RunSpec],
    shared: SharedPlan,
    observer: _Tracking,
    retries: Retries,
    raised: list[BaseException],
    done: threading.Event,
) -> None:
    try:
        _run_share(planned, shared, observer, retries, raised)
    finally:
        done.set()  # the thread's last step: what the main thread waits for


def _run_share(
    planned: list[RunSpec],
    shared: SharedPlan,
    observer: _Tracking,
    retries: Retries,
    raised: list[BaseException],
) -> None:
    outcome = observer.outcome
    todo = planned
    while todo:
        try:
            outcome.result = run_on_device(todo, observer, shared)
        except BaseException as exc:  # a device's end, whatever it is, is its outcome
            interrupted = isinstance(exc, KeyboardInterrupt | Terminated)
            outcome.status = DEVICE_INTERRUPTED if interrupted else DEVICE_FAILED
            outcome.error = _reason(exc)
            if interrupted:
                raised.append(exc)
                break
            completed = retries.completed()
            todo = [p for p in todo if p.key not in completed]
            if todo and retries.failed(todo[0].key):  # the run that failed: again
                _pause_before_retry(retries.failures[todo[0].key])
                continue
            break
        outcome.status, outcome.error = DEVICE_COMPLETED, None
        break
    started = {r.key for r in outcome.runs}
    outcome.not_run = [p for p in planned if p.key not in started]


def _pause_before_retry(failures: int) -> None:
    """Wait before trying a device again (1 s, 2 s, 4 s, ... at most 30 s): a device that
    dropped off the network or rebooted is rarely back within milliseconds. A signal ends
    the wait at once."""
    deadline = time.monotonic() + min(RETRY_PAUSE_S * 2 ** (failures - 1), 30.0)
    while time.monotonic() < deadline:
        raise_if_pending()
        time.sleep(min(JOIN_POLL_S, max(deadline - time.monotonic(), 0.0)))


def run_fleet(
    request: BenchRequest, devices: list[str], observers: ObserverFactory, retries: int = 0
) -> FleetResult:
    """Plan once, then run every cell × repeat on every device in `devices`, in parallel;
    a failed run is run again up to `retries` times.

    Bad input raises `MeltError` before anything is written; a device's failure is in its
    outcome; a signal is raised again once every device has stopped."""
    if len(set(devices)) != len(devices):
        raise MeltError("--device: a device is named twice; each device runs one run at a time")
    check_retries(retries)
    shared = prepare(request, observers("plan"))
    experiment_id = shared.store.create_experiment(
        name=request.name, command=request.command, config={**request.config, "devices": devices}
    )
    specs = plan_runs(request, devices, experiment_id)
    policy = Retries(retries, shared.store, experiment_id)
    outcomes = [DeviceOutcome(name) for name in devices]
    raised: list[BaseException] = []
    done = [threading.Event() for _ in outcomes]
    for outcome, ended in zip(outcomes, done, strict=True):
        threading.Thread(
            target=_run_device,
            args=(
                [s for s in specs if s.device == outcome.device],
                shared,
                _Tracking(observers(outcome.device), outcome),
                policy,
                raised,
                ended,
            ),
            name=f"melt-device-{outcome.device}",
            daemon=True,
        ).start()
    signal = wait_all(done)
    if signal is not None:
        raise signal
    if raised:
        raise raised[0]
    return FleetResult(experiment_id, shared.store.spec, outcomes)


def wait_all(done: list[threading.Event]) -> BaseException | None:
    """Wait until every device thread has set its event. A signal arriving meanwhile is kept
    (the device threads see it pending and stop at their next turn boundary) and returned once
    all have ended. An interrupted `Event.wait` leaves the event as it was, unlike `join`
    (see the module docstring)."""
    first: BaseException | None = None
    for ended in done:
        while not ended.is_set():
            try:
                ended.wait(JOIN_POLL_S)
            except (KeyboardInterrupt, Terminated) as exc:
                first = first or exc
    return first
