"""How melt stops on a signal: Ctrl-C (SIGINT), SIGTERM (`timeout`, a scheduler, `kill`) and
SIGHUP (the terminal closed) all end a run the same way, with a final status and everything
measured so far kept.

The handlers raise in the main thread (`KeyboardInterrupt` for SIGINT, `Terminated` for the
others) and also remember the signal. An exception raised while Python runs a C callback
(llama.cpp's log callback, for one) is printed and dropped by ctypes, so a signal landing
there would be swallowed; `raise_if_pending()`, called at every turn boundary and before a run
is marked completed, raises it again, so no interrupt is ever lost.

Inside `deferred()` (every results-store transaction) a signal is held instead: raised
inside a database driver or SQLAlchemy's pool it would cut a transaction or a connection's
reset in half (SQLAlchemy then logs "Exception during reset" with a traceback). It is raised
as soon as the outermost such block ends, so it costs at most one store write of delay.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

EXIT_BY_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGHUP: 129}

_pending: list[int] = []
_held: list[int] = []  # arrived inside a deferred() block, not raised yet
_local = threading.local()  # per thread: how many deferred() blocks it is inside


class Terminated(BaseException):
    """melt was asked to stop by SIGTERM or SIGHUP."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signal.Signals(signum).name)

    @property
    def exit_code(self) -> int:
        return EXIT_BY_SIGNAL.get(self.signum, 128 + self.signum)


def _raise_for(signum: int) -> None:
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise Terminated(signum)


def _handler(signum: int, _frame: FrameType | None) -> None:
    if signum not in _pending:
        _pending.append(signum)
    if getattr(_local, "depth", 0):  # handlers run in the main thread: its depth
        if signum not in _held:
            _held.append(signum)
        return
    _raise_for(signum)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM/SIGHUP until the block ends (see the module docstring); nested
    blocks hold until the outermost ends. A block that raises keeps its own exception."""
    depth = getattr(_local, "depth", 0)
    _local.depth = depth + 1
    try:
        yield
    except BaseException:
        if depth == 0:  # the block's own exception goes on; the signal stays pending
            _held.clear()  # (raise_if_pending), not held for a later, unrelated block
        raise
    finally:
        _local.depth = depth
    if depth == 0 and _held:
        signum = _held[0]
        _held.clear()
        _raise_for(signum)


def install() -> dict[int, object]:
    """Route SIGINT, SIGTERM and SIGHUP through melt's handler (main thread only); returns
    the handlers it replaced, for `restore`."""
    _pending.clear()
    _held.clear()
    return {signum: signal.signal(signum, _handler) for signum in EXIT_BY_SIGNAL}


def restore(previous: dict[int, object]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)  # type: ignore[arg-type]
    _pending.clear()
    _held.clear()


def raise_if_pending() -> None:
    """Raise the first signal received, if any (again: see the module docstring)."""
    if _pending:
        _raise_for(_pending[0])


def describe(signum: int) -> str:
    name = signal.Signals(signum).name
    why = {"SIGTERM": "asked to stop (SIGTERM)", "SIGHUP": "the terminal closed (SIGHUP)"}
    return f"terminated: {why.get(name, name)}"
