"""The fleet's main thread, given Ctrl-C while devices run, keeps waiting until every device
thread has ended: it must not exit (killing the daemon threads) while one is still writing
its run's final status."""

from __future__ import annotations

import os
import signal
import sys
import threading

from tests.waiting import wait_until

from melt import interrupts
from melt.execution.fleet import wait_all

LAST_WRITE_S = 1.0  # the device thread's last step, far longer than a wrongly ended wait takes


def _main_thread_waiting() -> bool:
    """The main thread is inside `wait_all` (so the signal lands in the wait, not before)."""
    frame = sys._current_frames().get(threading.main_thread().ident or 0)
    while frame is not None:
        if frame.f_code is wait_all.__code__:
            return True
        frame = frame.f_back
    return False


def _signal_seen() -> bool:
    try:
        interrupts.raise_if_pending()
    except KeyboardInterrupt:
        return True
    return False


def test_a_signal_during_the_wait_returns_only_after_every_device_thread_ended() -> None:
    previous = interrupts.install()
    done = [threading.Event(), threading.Event()]
    ended: list[str] = []
    release = threading.Event()

    def device(name: str, own: threading.Event, signals: bool) -> None:
        try:
            if signals:  # Ctrl-C reaches the process while the main thread waits
                assert wait_until(_main_thread_waiting, timeout_s=30)
                os.kill(os.getpid(), signal.SIGINT)
                assert wait_until(_signal_seen, timeout_s=30)
            release.wait(LAST_WRITE_S)  # still marking its run interrupted
            ended.append(name)
        finally:
            own.set()

    try:
        threads = [
            threading.Thread(target=device, args=(name, own, name == "board-a"), daemon=True)
            for name, own in zip(("board-a", "board-b"), done, strict=True)
        ]
        for thread in threads:
            thread.start()
        got = wait_all(done)
        assert sorted(ended) == ["board-a", "board-b"]  # both ended before the wait did
        assert isinstance(got, KeyboardInterrupt)  # and the signal is handed on, not lost
    finally:
        release.set()
        interrupts.restore(previous)
