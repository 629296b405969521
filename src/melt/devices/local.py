"""The machine melt itself runs on, optionally with its sysfs and procfs under a `root`.

`LocalDevice(root=fixture)` replaces `--sysfs-root`: every absolute path is read below the
root, so a fixture tree laid out like a phone's /sys and /proc stands in for one. The
process table is the machine's own, never a fixture's: `/proc/self/…` and `/proc/<pid>/…`
always read the real /proc, because process figures (RSS, CPU time) must be of the process
that really ran the engine.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from melt.devices.base import ClockOffset, CommandResult, DeviceError, DeviceFacts
from melt.devices.facts import collect
from melt.devices.fspath import DevicePath
from melt.devices.process import StreamProcess

_LIVE_PROC = re.compile(r"^/proc/(self|\d+)(/|$)")


def default_workdir() -> str:
    base = os.environ.get("MELT_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "melt")
    return os.path.join(base, "device")


class LocalDevice:
    transport = "local"
    on_controller = True
    no_runner: str | None = None

    def __init__(
        self,
        root: Path = Path("/"),
        name: str = "local",
        workdir: str | None = None,
        extra: Mapping[str, object] | None = None,
    ) -> None:
        self.root = Path(root)
        self.name = name
        self._workdir = workdir or default_workdir()
        self._extra = dict(extra or {})

    # --- file view -----------------------------------------------------------------------

    def local_path(self, path: str) -> Path:
        """Where a device path lives on this machine (below the root, except live /proc)."""
        if not path.startswith("/"):
            raise ValueError(f"device paths are absolute (got '{path}')")
        if self.root == Path("/") or _LIVE_PROC.match(path):
            return Path(path)
        return self.root / path.lstrip("/")

    def path(self, path: str = "/") -> DevicePath:
        return DevicePath(self, path)

    def read_text(self, path: str) -> str:
        return self.local_path(path).read_text()

    def list_dir(self, path: str) -> list[str]:
        return sorted(os.listdir(self.local_path(path)))

    def exists(self, path: str) -> bool:
        return self.local_path(path).exists()

    def is_dir(self, path: str) -> bool:
        return self.local_path(path).is_dir()

    def read_many(self, paths: Sequence[str]) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for p in paths:
            try:
                out[p] = self.read_text(p)
            except (OSError, UnicodeDecodeError):
                out[p] = None
        return out

    def write_text(self, path: str, text: str) -> None:
        self.local_path(path).write_text(text)

    # --- commands and processes ----------------------------------------------------------

    def run(self, argv: Sequence[str], timeout: float = 60.0) -> CommandResult:
        try:
            done = subprocess.run(list(argv), capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise DeviceError(
                f"device '{self.name}': '{' '.join(argv)}' did not finish within {timeout:g} s"
            ) from None
        except OSError as exc:
            raise DeviceError(f"device '{self.name}': cannot run '{argv[0]}' ({exc})") from None
        return CommandResult(
            tuple(argv),
            done.returncode,
            done.stdout.decode("utf-8", errors="replace"),
            done.stderr.decode("utf-8", errors="replace"),
        )

    def spawn(self, argv: Sequence[str], env: Mapping[str, str] | None = None) -> StreamProcess:
        try:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=None if env is None else {**os.environ, **env},
                start_new_session=True,  # a Ctrl-C on the controller reaches it only via melt
            )
        except OSError as exc:
            raise DeviceError(f"device '{self.name}': cannot start '{argv[0]}' ({exc})") from None

        def send(signum: int) -> None:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signum)

        def wait(timeout: float | None) -> int:
            try:
                return proc.wait(timeout)
            except subprocess.TimeoutExpired:
                raise DeviceError(
                    f"device '{self.name}': process {proc.pid} still running after {timeout} s"
                ) from None

        assert proc.stdout is not None
        return StreamProcess(proc.pid, proc.stdin, proc.stdout, proc.stderr, send, wait)

    def push(self, local: Path, remote: str) -> int:
        target = Path(os.path.expanduser(remote))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(local, target)
        return target.stat().st_size

    def pull(self, remote: str, local: Path) -> int:
        shutil.copyfile(os.path.expanduser(remote), local)
        return local.stat().st_size

    # --- time ----------------------------------------------------------------------------

    def now_ns(self) -> int:
        return time.monotonic_ns()

    def clock_offset(self) -> ClockOffset:
        return ClockOffset(0, 0, 0, 0, "same clock: the controller is the device")

    # --- the rest ------------------------------------------------------------------------

    def workdir(self) -> str:
        os.makedirs(self._workdir, exist_ok=True)
        return self._workdir

    def forward(self, remote_port: int) -> int:
        return remote_port

    def facts(self) -> DeviceFacts:
        return collect(self, self.name, self.transport, self.workdir(), self._extra)

    def close(self) -> None:
        return None
