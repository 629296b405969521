"""Waiting out a store that cannot serve an operation for now: another process holds
SQLite's lock, or the PostgreSQL server melt was writing to is gone (restarting, a network
blip). One mechanism for both: the operation is tried again with a growing delay until the
store has been unavailable for `window_s` seconds (`MELT_STORE_RETRY_S`, default 30), then
the caller gets `OutOfPatience` and says so in one line (store/failures.py).

The window is measured from the first failure of an outage, not per operation: once a
turn's write has waited the whole window, the run's final status and the sampler's next
batch fail at once instead of waiting again, so a run ends within about one window of the
store going away. Any success ends the outage.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from melt.errors import MeltError
from melt.store.failures import RETRY_WINDOW_ENV, reason

log = logging.getLogger(__name__)
T = TypeVar("T")

WINDOW_ENV = RETRY_WINDOW_ENV
DEFAULT_WINDOW_S = 30.0
FIRST_DELAY_S = 0.1
MAX_DELAY_S = 2.0


def window_from_env() -> float:
    """The retry window in seconds from `MELT_STORE_RETRY_S` (default 30; 0 never waits)."""
    raw = os.environ.get(WINDOW_ENV, "").strip()
    if not raw:
        return DEFAULT_WINDOW_S
    try:
        window = float(raw)
    except ValueError:
        window = math.nan
    if not math.isfinite(window) or window < 0:
        raise MeltError(
            f"{WINDOW_ENV}='{raw}' is not a number of seconds; set it to how long melt waits "
            f"for a lost results store (e.g. {DEFAULT_WINDOW_S:.0f}) or unset it"
        )
    return window


class OutOfPatience(Exception):
    """The store stayed unavailable for the whole window."""

    def __init__(self, kind: str, cause: BaseException, attempts: int, waited_s: float) -> None:
        super().__init__(f"{kind} after {attempts} attempts over {waited_s:.1f} s: {cause}")
        self.kind = kind
        self.cause = cause
        self.attempts = attempts
        self.waited_s = waited_s


class Patience:
    """How long one store waits for itself to come back, shared by its threads (a run's
    turns and its sampler write through the same store)."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._lock = threading.Lock()
        self._since: float | None = None  # monotonic time the current outage began

    def _outage_began(self) -> float:
        with self._lock:
            if self._since is None:
                self._since = time.monotonic()
            return self._since

    def _outage_ended(self) -> None:
        with self._lock:
            self._since = None

    def run(self, attempt: Callable[[], T], kind_of: Callable[[Exception], str | None]) -> T:
        """`attempt()`, tried again while `kind_of` names its failure as one to wait for
        (and the window lasts); any other failure is raised as it is."""
        delay = FIRST_DELAY_S
        attempts = 0
        while True:
            attempts += 1
            try:
                result = attempt()
            except Exception as exc:
                kind = kind_of(exc)
                if kind is None:
                    raise
                waited = time.monotonic() - self._outage_began()
                if waited >= self.window_s:
                    raise OutOfPatience(kind, exc, attempts, waited) from exc
                pause = min(delay, self.window_s - waited)  # the last try at the window's end
                log.info(
                    "results store %s (%s); retry %d in %.1f s", kind, reason(exc), attempts, pause
                )
                time.sleep(pause)  # a backoff between attempts, not synchronisation
                delay = min(delay * 2, MAX_DELAY_S)
                continue
            self._outage_ended()
            return result
