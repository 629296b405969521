"""What every device is, whatever the transport (DESIGN.md: Devices and runners).

A run always happens *on a device*; the controller is only where melt is typed. A `Device`
gives melt a file view (sysfs and procfs are read through it, so probes are the same code
for every transport), commands, long-lived processes, file transfer, and the device's own
monotonic clock with its offset from the controller's.

Paths on a device are POSIX strings (`"/sys/class/thermal"`), never `pathlib.Path`: the
controller's path rules say nothing about a phone's filesystem.

This module is standard library only: the runner melt ships to a device imports it too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from melt.errors import MeltError


class DeviceError(MeltError):
    """The device could not do what was asked (unreachable, a command failed, no space).

    The message is one line naming the device and, where there is one, the fix; the CLI shows
    it as a user-facing error and a run it interrupts is marked failed with it.
    """


@dataclass(frozen=True, slots=True)
class CommandResult:
    """A finished command: exit status and its output, decoded as UTF-8 (errors replaced)."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


@dataclass(frozen=True, slots=True)
class ClockOffset:
    """Device clock minus controller clock, NTP-style.

    Over several exchanges the controller reads its clock (t0), the device its own (t1), the
    controller again (t2); the exchange with the shortest round trip t2 - t0 is kept, and
    offset = t1 - (t0 + t2) / 2 with uncertainty ± (t2 - t0) / 2. A device time t maps to
    controller time t - offset_ns. Both clocks are monotonic (CLOCK_MONOTONIC) in ns.
    """

    offset_ns: int
    uncertainty_ns: int
    round_trip_ns: int
    exchanges: int
    method: str

    def to_controller_ns(self, device_ns: int) -> int:
        return device_ns - self.offset_ns

    def to_device_ns(self, controller_ns: int) -> int:
        return controller_ns + self.offset_ns

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def best_offset(exchanges: Iterable[tuple[int, int, int]], method: str) -> ClockOffset:
    """The offset from the fastest of several (t0 controller, t1 device, t2 controller)
    exchanges; see `ClockOffset`."""
    rows = list(exchanges)
    if not rows:
        raise ValueError("no clock exchanges")
    t0, t1, t2 = min(rows, key=lambda r: r[2] - r[0])
    round_trip = t2 - t0
    return ClockOffset(
        offset_ns=t1 - (t0 + t2) // 2,
        uncertainty_ns=(round_trip + 1) // 2,
        round_trip_ns=round_trip,
        exchanges=len(rows),
        method=method,
    )


@dataclass(frozen=True, slots=True)
class DeviceFacts:
    """What identifies a device for comparing runs (llama-bench's row keys), read from it.

    Units are in the names; a fact the device did not reveal is None. `extra` holds what a
    transport knows beyond these (Android getprop values, battery) and what the user stated in
    the inventory (e.g. `battery_mah`), each under its own key.
    """

    name: str
    transport: str
    host: str | None
    cpu_model: str | None
    physical_cores: int | None
    logical_cores: int | None
    cpu_max_freq_khz: tuple[int | None, ...]
    ram_bytes: int | None
    os: str | None
    kernel: str | None
    arch: str | None
    python: str | None
    llama_cpp_python: str | None
    workdir: str | None
    workdir_free_bytes: int | None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """A flat JSON-able document: the environment row's facts (`device` is the name)."""
        out = asdict(self)
        out["cpu_max_freq_khz"] = list(self.cpu_max_freq_khz)
        out["extra"] = dict(self.extra)
        out["device"] = self.name
        return out


@runtime_checkable
class DeviceProcess(Protocol):
    """A process running on a device: its pid there, its stdout as lines, its stdin."""

    pid: int

    def lines(self) -> Iterator[str]:
        """stdout, one line at a time without the newline, until the process closes it."""
        ...

    def write(self, text: str) -> None:
        """Send text to the process's stdin (flushed)."""
        ...

    def close_stdin(self) -> None: ...

    def signal(self, signum: int) -> None:
        """Deliver a signal to the process on the device (no error if it has ended)."""
        ...

    def wait(self, timeout: float | None = None) -> int:
        """Exit status; raises `DeviceError` when `timeout` (seconds) passes first."""
        ...

    def stderr_tail(self) -> str:
        """The last lines the process wrote to stderr (for error messages)."""
        ...


@runtime_checkable
class FileView(Protocol):
    """Read-only access to a device's files, for probes and facts."""

    def read_text(self, path: str) -> str:
        """A file's content; raises `OSError` (FileNotFoundError when absent)."""
        ...

    def list_dir(self, path: str) -> list[str]:
        """Entry names of a directory, sorted; raises `OSError` when it is not one."""
        ...

    def exists(self, path: str) -> bool: ...

    def is_dir(self, path: str) -> bool: ...

    def read_many(self, paths: Sequence[str]) -> dict[str, str | None]:
        """Many files in one round trip; None for each file that could not be read."""
        ...


@runtime_checkable
class Device(FileView, Protocol):
    """A machine a model runs on. `local` is always there; others come from the inventory.

    What differs between transports is said by the device, never by comparing `transport`
    outside this package: `on_controller` (the device is the machine melt runs on: its
    process can load the engine and measure the machine directly) and `no_runner` (why
    melt's Python runner cannot run there and what to use instead; None where it can)."""

    name: str
    transport: str
    on_controller: bool
    no_runner: str | None

    def facts(self) -> DeviceFacts: ...

    def run(self, argv: Sequence[str], timeout: float = 60.0) -> CommandResult:
        """Run a command to completion; raises `DeviceError` on timeout or lost connection."""
        ...

    def spawn(self, argv: Sequence[str], env: Mapping[str, str] | None = None) -> DeviceProcess:
        """Start a long-lived process (a runner, a server)."""
        ...

    def push(self, local: Path, remote: str) -> int:
        """Copy a controller file to the device; returns the bytes sent."""
        ...

    def pull(self, remote: str, local: Path) -> int:
        """Copy a device file to the controller; returns the bytes received."""
        ...

    def now_ns(self) -> int:
        """The device's CLOCK_MONOTONIC in ns (one round trip on a remote device)."""
        ...

    def clock_offset(self) -> ClockOffset: ...

    def workdir(self) -> str:
        """Where melt keeps models and its runner on the device (created on first use)."""
        ...

    def forward(self, remote_port: int) -> int:
        """Make a TCP port listening on the device's loopback reachable from the controller;
        returns the controller's local port (the same port for the local device)."""
        ...

    def write_text(self, path: str, text: str) -> None:
        """Write a small file on the device (e.g. /proc/<pid>/clear_refs)."""
        ...

    def close(self) -> None: ...
