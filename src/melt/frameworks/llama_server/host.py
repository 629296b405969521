"""What llama-server needs from the device it runs on, and nothing more.

The runner that joins frameworks and devices gives the framework a `ServerHost` for the
run's device (`runners/server_host.py`); this package never sees a device itself, so the
framework works unchanged on this machine, an SSH board or a phone.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from melt.models import Artifact


@dataclass(frozen=True, slots=True)
class Placed:
    """Where a file is on the device and how many bytes it took to get it there."""

    path: str
    bytes_pushed: int


class HostProcess(Protocol):
    """A process started on the device: its pid there, its stdout lines, signals, exit."""

    pid: int

    def lines(self) -> Iterator[str]: ...

    def signal(self, signum: int) -> None: ...

    def wait(self, timeout: float | None = None) -> int:
        """Exit status; raises `MeltError` when `timeout` (seconds) passes first."""
        ...

    def stderr_tail(self) -> str: ...


class ServerHost(Protocol):
    """The device side of a server framework. `local` is True for this machine (a binary
    given as a path here is used where it is); `configured_binary` is the inventory's
    `llama_server` for the device, if any; `abi` its architecture (`uname -m`, or a phone's
    first ABI), which picks the runtime melt built for it."""

    name: str
    local: bool
    configured_binary: str | None
    abi: str | None

    def put_binary(self, binary: str) -> Placed:
        """The executable on the device: pushed (by content) when it is a file here and
        the device is not this machine, else `binary` as a path on the device. A tool of a
        melt runtime is pushed with the libraries beside it."""
        ...

    def put_model(self, artifact: Artifact) -> Placed: ...

    def run(self, argv: Sequence[str], timeout: float) -> tuple[int, str]:
        """Exit status and stdout + stderr of a command run to completion."""
        ...

    def spawn(self, argv: Sequence[str]) -> HostProcess: ...

    def free_port(self) -> int:
        """A TCP port nothing on the device is bound to."""
        ...

    def workdir(self) -> str:
        """A directory melt may write to on the device (created on first use)."""
        ...

    def forward(self, port: int) -> int:
        """The controller's port that reaches `port` on the device's loopback."""
        ...

    def cpu_ticks(self, pid: int) -> int | None:
        """utime + stime of the device's process `pid` (None when unreadable)."""
        ...

    def clock_ticks_per_s(self) -> tuple[int, str]:
        """The unit of `cpu_ticks` (USER_HZ) and where it came from."""
        ...
