"""A `DeviceProcess` over any byte streams: the local device's subprocesses and a remote
transport's channels share it (lines from stdout, a bounded stderr tail, stdin writes).

Standard library only.
"""

from __future__ import annotations

import collections
import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import IO

STDERR_TAIL_LINES = 20


class StreamProcess:
    """Lines of `stdout`; stderr drained in a thread into a tail; `signal_fn` and `wait_fn`
    are the transport's own (a local `Popen`, a `kill` over SSH)."""

    def __init__(
        self,
        pid: int,
        stdin: IO[bytes] | None,
        stdout: IO[bytes],
        stderr: IO[bytes] | None,
        signal_fn: Callable[[int], None],
        wait_fn: Callable[[float | None], int],
    ) -> None:
        self.pid = pid
        self._stdin = stdin
        self._stdout = stdout
        self._signal = signal_fn
        self._wait = wait_fn
        self._tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        self._stderr_thread: threading.Thread | None = None
        if stderr is not None:
            self._stderr_thread = threading.Thread(
                target=self._drain, args=(stderr,), name=f"stderr-{pid}", daemon=True
            )
            self._stderr_thread.start()

    def _drain(self, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            self._tail.append(raw.decode("utf-8", errors="replace").rstrip("\n"))

    def lines(self) -> Iterator[str]:
        for raw in iter(self._stdout.readline, b""):
            yield raw.decode("utf-8", errors="replace").rstrip("\n")

    def write(self, text: str) -> None:
        if self._stdin is None:
            raise BrokenPipeError("stdin is closed")
        self._stdin.write(text.encode("utf-8"))
        self._stdin.flush()

    def close_stdin(self) -> None:
        if self._stdin is not None:
            with contextlib.suppress(OSError):
                self._stdin.close()
            self._stdin = None

    def signal(self, signum: int) -> None:
        self._signal(signum)

    def wait(self, timeout: float | None = None) -> int:
        return self._wait(timeout)

    def stderr_tail(self) -> str:
        if self._stderr_thread is not None:
            self._stderr_thread.join(timeout=0.5)
        return "\n".join(self._tail)
