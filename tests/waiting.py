"""Waiting in tests: on a condition, with a deadline, never for a fixed time."""

from __future__ import annotations

import time
from collections.abc import Callable

POLL_S = 0.05


def wait_until(condition: Callable[[], object], timeout_s: float) -> bool:
    """True as soon as `condition()` is truthy; False when `timeout_s` passed first (checked
    once more at the deadline). `condition` may raise to end the wait early (a process that
    died)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(POLL_S)  # between checks of the condition, not instead of one
    return bool(condition())
