"""An Android phone over ADB: the real adb server, driven with adbutils (`melt-bench[adb]`).

Commands go through `shell:` (protocol v1, which every adbd speaks): melt wraps each command in
a small POSIX-sh script that prints the command's pid, its stdout, then a marker line with its
exit status, and sends stderr to a file on the phone that the same script prints after the
marker; one command is one round trip. Files move through the sync service; `read_many` reads
many files with one script; ports are reached with `adb forward`.

The device clock is `now at N nsecs` of `/proc/timer_list` (the kernel's CLOCK_MONOTONIC in ns)
where the shell may read it, else `/proc/uptime`, which is CLOCK_BOOTTIME at 10 ms resolution
(MONOTONIC plus the time spent suspended; a run keeps the phone awake, so both advance
together). `clock_offset` adds that resolution to its uncertainty.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shlex
import socket
import stat
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from queue import Queue
from typing import Any

from melt.devices.adb_sync import SyncFailed, send_file
from melt.devices.android_facts import read_android_facts
from melt.devices.base import ClockOffset, CommandResult, DeviceError, DeviceFacts, best_offset
from melt.errors import MeltError
from melt.extras import install_hint

log = logging.getLogger(__name__)

INSTALL_HINT = install_hint("adb")
DEFAULT_WORKDIR = "/data/local/tmp/melt"
DEFAULT_SERVER_PORT = 5037
EXIT_MARK = "\x1emelt-exit "
PID_MARK = "\x1emelt-pid "
STDERR_DIR = "/data/local/tmp"
CLOCK_EXCHANGES = 8
# `adb devices` states other than `device`, and what the user does about each.
STATE_FIXES = {
    "unauthorized": "is unauthorized: unlock the phone and accept 'Allow USB debugging' for "
    "this computer, then retry",
    "offline": "is offline: reconnect the cable (or 'adb reconnect'), and check the phone is "
    "awake, then retry",
    "no": "has no permissions for this user: add a udev rule for the phone (Debian: apt-get "
    "install android-sdk-platform-tools-common) and replug it",
    "recovery": "is in recovery mode: reboot it to Android",
    "bootloader": "is in the bootloader: reboot it to Android",
    "sideload": "is in sideload mode: reboot it to Android",
}
# ELF e_machine → the Android ABIs (ro.product.cpu.abilist) that run it.
ELF_MACHINE_ABIS = {
    3: ("x86",),
    40: ("armeabi-v7a", "armeabi"),
    62: ("x86_64",),
    183: ("arm64-v8a",),
}


def _adbutils() -> Any:
    try:
        import adbutils
    except ImportError:
        raise MeltError(f"the adb transport needs adbutils: {INSTALL_HINT}") from None
    return adbutils


@dataclass(frozen=True, slots=True)
class ClockSource:
    """A shell command printing the device's clock, and how to turn its output into ns."""

    key: str
    name: str
    command: str
    scale_ns: int
    resolution_ns: int

    def parse(self, text: str) -> int:
        value = text.split()[0]
        if self.scale_ns == 1:
            return int(value)
        whole, _, frac = value.partition(".")
        digits = len(str(self.scale_ns)) - 1
        return int(whole) * self.scale_ns + int((frac + "0" * digits)[:digits] or 0)


CLOCK_SOURCES = (
    ClockSource(
        "timer_list",
        "/proc/timer_list (CLOCK_MONOTONIC)",
        "sed -n 's/^now at \\([0-9]*\\) nsecs$/\\1/p;3q' /proc/timer_list",
        1,
        1,
    ),
    ClockSource(
        "uptime", "/proc/uptime (CLOCK_BOOTTIME)", "cat /proc/uptime", 1_000_000_000, 10_000_000
    ),
)


def elf_machine(path: Path) -> int | None:
    """e_machine of an ELF file, None when the file is not ELF."""
    with path.open("rb") as f:
        head = f.read(20)
    if len(head) < 20 or head[:4] != b"\x7fELF":
        return None
    order = "little" if head[5] == 1 else "big"
    return int.from_bytes(head[18:20], order)


def check_abi(path: Path, abilist: Sequence[str], serial: str) -> None:
    """Refuse an ELF binary the phone's CPU cannot run, before it is pushed."""
    machine = elf_machine(path)
    if machine is None or not abilist:
        return
    runs_on = ELF_MACHINE_ABIS.get(machine, ())
    if not set(runs_on) & set(abilist):
        built_for = "/".join(runs_on) or f"ELF machine {machine}"
        raise MeltError(  # the user's --server-binary: exit 2, not a device fault
            f"{path} is built for {built_for} but adb device {serial} runs "
            f"{','.join(abilist)}: pass a build for {abilist[0]}"
        )


# A shell stream adbd closes before printing anything ran nothing, so it is safe to open
# another; seen when the adb server is busy (a loaded machine), not as a lasting fault.
SHELL_START_ATTEMPTS = 3


# The command's own shell prints its pid, then execs the command (same pid): so the pid line
# always comes before the command's output (a parent printing `$!` races the child).
_PID_THEN_EXEC = shlex.quote(f"printf '{PID_MARK}%d\\n' $$; exec \"$@\"")


def _wrap(argv: Sequence[str], err: str, env: Mapping[str, str] | None) -> str:
    """The script of the module docstring: the pid, stdout, then the exit marker; stderr goes
    to `err` (a shell word, already quoted)."""
    command = shlex.join(argv)
    if env:
        command = "env " + shlex.join(f"{k}={v}" for k, v in env.items()) + " " + command
    return (
        f"exec 3<&0 2>/dev/null; sh -c {_PID_THEN_EXEC} sh {command} <&3 2>{err} & p=$!; "
        f"wait $p; r=$?; printf '\\n{EXIT_MARK}%d\\n' $r"
    )


def _split_output(serial: str, raw: str) -> tuple[int, str, str]:
    """(returncode, stdout, rest after the exit line) of a wrapped command's output."""
    head, sep, body = raw.partition("\n")
    if not head.startswith(PID_MARK) or not sep:
        raise DeviceError(f"adb device {serial}: lost the connection before the command started")
    at = body.rfind("\n" + EXIT_MARK)
    if at < 0:
        raise DeviceError(f"adb device {serial}: lost the connection during the command")
    status_line, _, rest = body[at + 1 + len(EXIT_MARK) :].partition("\n")
    return int(status_line), body[:at], rest


class AdbDevice:
    """A phone reached through the adb server at `adb_server_host:adb_server_port`."""

    transport = "adb"
    on_controller = False
    no_runner: str | None = "phones run --framework llama-server (melt pushes llama.cpp's server)"

    def __init__(
        self,
        serial: str,
        name: str | None = None,
        workdir: str = DEFAULT_WORKDIR,
        adb_server_port: int | None = None,
        adb_server_host: str = "127.0.0.1",
        extra_facts: Mapping[str, Any] | None = None,
    ) -> None:
        self.serial = serial
        self.name = name or serial
        self._workdir = workdir
        self.server_host = adb_server_host
        self.server_port = adb_server_port or int(
            os.environ.get("ANDROID_ADB_SERVER_PORT", DEFAULT_SERVER_PORT)
        )
        self._extra_facts = dict(extra_facts or {})
        self._adb: Any = None
        self._dev: Any = None
        self._clock: ClockSource | None = None
        self._workdir_made = False
        self._forwards: list[int] = []
        self._abilist: tuple[str, ...] | None = None
        self._spawned: list[str] = []  # stderr files of spawned processes, removed by close()

    # -- connection and state ------------------------------------------------------------

    def _server_running(self) -> bool:
        try:
            with socket.create_connection((self.server_host, self.server_port), timeout=2.0):
                return True
        except OSError:
            return False

    def _start_server(self, adbutils: Any) -> None:
        if self.server_host not in ("127.0.0.1", "localhost"):
            raise DeviceError(
                f"no adb server at {self.server_host}:{self.server_port}: start one there "
                f"with 'adb -a -P {self.server_port} server nodaemon'"
            )
        try:
            subprocess.run(
                [adbutils.adb_path(), "-P", str(self.server_port), "start-server"],
                check=True,
                capture_output=True,
                timeout=30,
            )
        except (OSError, subprocess.SubprocessError, adbutils.AdbError) as exc:
            raise DeviceError(
                f"could not start the adb server on port {self.server_port} ({exc}): "
                "install adb (apt-get install adb, or Android platform-tools)"
            ) from None

    def _client(self) -> Any:
        """The adbutils client, after starting a local adb server on our port if none runs
        (adbutils would start one on the default port)."""
        if self._adb is None:
            adbutils = _adbutils()
            if not self._server_running():
                self._start_server(adbutils)
            self._adb = adbutils.AdbClient(host=self.server_host, port=self.server_port)
        return self._adb

    def _device(self) -> Any:
        """The adbutils device, after checking the server lists it as `device`."""
        if self._dev is not None:
            return self._dev
        adbutils = _adbutils()
        state = self.state()
        if state is None and ":" in self.serial:
            try:
                self._client().connect(self.serial, timeout=15)
            except adbutils.AdbError as exc:
                log.info("adb connect %s: %s", self.serial, exc)
            state = self.state()
        self._check_state(state)
        self._dev = self._client().device(serial=self.serial)
        return self._dev

    def state(self) -> str | None:
        """What the adb server says of this serial (`device`, `unauthorized`, `offline`, ...),
        None when it does not list it."""
        adbutils = _adbutils()
        try:
            infos = self._client().list()
        except (adbutils.AdbError, OSError) as exc:
            raise DeviceError(
                f"adb server at {self.server_host}:{self.server_port} did not answer ({exc})"
            ) from None
        for info in infos:
            if info.serial == self.serial:
                return str(info.state)
        return None

    def _check_state(self, state: str | None) -> None:
        s = self.serial
        if state == "device":
            return
        if state is None:
            how = (
                f"'adb connect {s}' after turning on wireless debugging"
                if ":" in s
                else "plug it in with USB debugging on"
            )
            raise DeviceError(
                f"adb device {s} not found by the adb server on port {self.server_port}: "
                f"{how}; 'adb devices' lists the serials"
            )
        fix = STATE_FIXES.get(state, f"is in state '{state}', not 'device': boot it to Android")
        raise DeviceError(f"adb device {s} {fix}")

    def _lost(self, exc: BaseException) -> DeviceError:
        self._dev = None
        return DeviceError(
            f"adb device {self.serial}: connection lost ({exc or type(exc).__name__})"
        )

    # -- commands ------------------------------------------------------------------------

    def _open_shell(self, script: str) -> Any:
        adbutils = _adbutils()
        dev = self._device()
        try:
            return dev.open_shell(script)
        except (adbutils.AdbError, OSError) as exc:
            self._dev = None
            self._check_state(self.state())
            raise self._lost(exc) from None

    def _read_all(self, conn: Any, deadline: float, argv: Sequence[str]) -> str:
        chunks = []
        sock = conn.conn
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError
                sock.settimeout(remaining)
                data = sock.recv(65536)
                if not data:
                    break
                chunks.append(data)
        except TimeoutError:
            self._kill_started(b"".join(chunks))
            raise DeviceError(
                f"adb device {self.serial}: '{shlex.join(argv)}' did not finish in time"
            ) from None
        except OSError as exc:
            raise self._lost(exc) from None
        finally:
            conn.close()
        return b"".join(chunks).decode("utf-8", errors="replace")

    def _kill_started(self, partial: bytes) -> None:
        """After a timeout: end the command on the phone by the pid its wrapper printed
        (adbd need not end it when the stream closes)."""
        head = partial.split(b"\n", 1)[0].decode("utf-8", errors="replace")
        if head.startswith(PID_MARK) and head.removeprefix(PID_MARK).isdigit():
            try:
                self.run(["kill", "-9", head.removeprefix(PID_MARK)], timeout=10)
            except DeviceError as exc:
                log.warning("%s: could not end timed-out pid %s: %s", self.name, head, exc)

    def run(self, argv: Sequence[str], timeout: float = 60.0) -> CommandResult:
        err = f'"{STDERR_DIR}/.melt-stderr.$$"'
        script = _wrap(argv, err, None) + f"; cat {err} 2>/dev/null; rm -f {err}"
        deadline = time.monotonic() + timeout
        raw = ""
        for _ in range(SHELL_START_ATTEMPTS):
            raw = self._read_all(self._open_shell(script), deadline, argv)
            if raw:  # the shell said something: the command started, never run it twice
                break
            log.debug(
                "adb device %s: a shell closed before it started; opening another", self.serial
            )
        returncode, stdout, stderr = _split_output(self.serial, raw)
        return CommandResult(tuple(argv), returncode, stdout, stderr)

    def shell(self, script: str, timeout: float = 60.0) -> CommandResult:
        """A POSIX-sh script on the phone (pipes, loops), as one command."""
        return self.run(["sh", "-c", script], timeout=timeout)

    def spawn(self, argv: Sequence[str], env: Mapping[str, str] | None = None) -> AdbProcess:
        err = f"{self.workdir()}/.spawn-{os.getpid()}-{len(self._spawned)}.stderr"
        self._spawned.append(err)
        conn = self._open_shell(_wrap(argv, shlex.quote(err), env))
        return AdbProcess(self, conn, err, argv)

    # -- file view -----------------------------------------------------------------------

    def read_text(self, path: str) -> str:
        result = self.run(["cat", path])
        if result.ok:
            return result.stdout
        if "No such file" in result.stderr:
            raise FileNotFoundError(path)
        raise OSError(f"{self.name}:{path}: {result.stderr.strip()}")

    def list_dir(self, path: str) -> list[str]:
        q = shlex.quote(path)
        result = self.shell(
            f"if [ -d {q} ]; then ls -1A {q}; elif [ -e {q} ]; then exit 20; else exit 2; fi"
        )
        if result.returncode == 2:
            raise FileNotFoundError(path)
        if result.returncode == 20:
            raise NotADirectoryError(path)
        if not result.ok:
            raise OSError(f"{self.name}:{path}: {result.stderr.strip()}")
        return sorted(line for line in result.stdout.splitlines() if line)

    def exists(self, path: str) -> bool:
        return self.run(["test", "-e", path]).ok

    def is_dir(self, path: str) -> bool:
        return self.run(["test", "-d", path]).ok

    def write_text(self, path: str, text: str) -> None:
        """A small file on the phone (e.g. /proc/<pid>/clear_refs), through the shell."""
        result = self.run(["sh", "-c", 'printf %s "$1" > "$2"', "sh", text, path], timeout=30.0)
        if not result.ok:
            raise OSError(f"{self.name}:{path}: {result.stderr.strip()}")

    def read_many(self, paths: Sequence[str]) -> dict[str, str | None]:
        """One script: for each path a header line, its content, and an ok/missing line."""
        if not paths:
            return {}
        nonce = hashlib.sha256(os.urandom(8)).hexdigest()[:12]
        parts = []
        for i, path in enumerate(paths):
            q = shlex.quote(path)
            parts.append(
                f"printf '@{nonce} {i}\\n'; if cat {q} 2>/dev/null; "
                f"then printf '\\n@{nonce} ok\\n'; else printf '\\n@{nonce} no\\n'; fi"
            )
        out = self.shell("; ".join(parts)).stdout
        found: dict[str, str | None] = dict.fromkeys(paths)
        for i, path in enumerate(paths):
            start = out.find(f"@{nonce} {i}\n")
            if start < 0:
                continue
            body_start = start + len(f"@{nonce} {i}\n")
            end = out.find(f"\n@{nonce} ", body_start)
            if end >= 0 and out.startswith(f"\n@{nonce} ok\n", end):
                found[path] = out[body_start:end]
        return found

    # -- transfer ------------------------------------------------------------------------

    def abilist(self) -> tuple[str, ...]:
        if self._abilist is None:
            text = self.run(["getprop", "ro.product.cpu.abilist"]).stdout.strip()
            if not text:
                text = self.run(["getprop", "ro.product.cpu.abi"]).stdout.strip()
            self._abilist = tuple(a for a in text.split(",") if a)
        return self._abilist

    def free_bytes(self, path: str) -> int | None:
        """Free space of the filesystem holding `path` (`df -k`), None when df says nothing."""
        result = self.shell(f"df -k {shlex.quote(path)} 2>/dev/null | tail -n 1")
        fields = result.stdout.split()
        if len(fields) >= 4 and fields[3].isdigit():
            return int(fields[3]) * 1024
        return None

    def push(self, local: Path, remote: str) -> int:
        """Sync a file to the phone after checking its ABI (ELF) and the free space; the
        result is verified by size and sha256 on the phone."""
        size = local.stat().st_size
        check_abi(local, self.abilist(), self.serial)
        parent = remote.rsplit("/", 1)[0] or "/"
        self.run(["mkdir", "-p", parent])
        free = self.free_bytes(parent)
        if free is not None and free < size:
            raise DeviceError(
                f"adb device {self.serial} has {free / 1e6:.1f} MB free in {parent} but "
                f"{local.name} needs {size / 1e6:.1f} MB: free space on the phone"
            )
        adbutils = _adbutils()
        try:
            sent = send_file(self._device(), local, remote, stat.S_IMODE(local.stat().st_mode))
        except SyncFailed as exc:
            if exc.no_space:
                raise self._out_of_space(local, parent, size, exc.message) from None
            raise DeviceError(
                f"adb device {self.serial}: push of {local} to {remote} failed ({exc.message})"
            ) from None
        except (adbutils.AdbError, OSError) as exc:
            raise DeviceError(
                f"adb device {self.serial}: push of {local} to {remote} failed ({exc})"
            ) from None
        on_phone = self._device().sync.stat(remote).size
        hashed = self.run(["sha256sum", remote], timeout=600)
        same_hash = hashed.stdout.split()[:1] == [_sha256(local)]
        if not hashed.ok:  # a phone without toybox's sha256sum: the size is all there is
            log.warning("%s: no sha256sum on the phone; %s checked by size only", self.name, remote)
            same_hash = True
        if sent != size or on_phone != size & 0xFFFFFFFF or not same_hash:
            raise DeviceError(
                f"adb device {self.serial}: {remote} differs from {local} after the push: retry"
            )
        return int(sent)

    def _out_of_space(self, local: Path, parent: str, size: int, said: str) -> DeviceError:
        """The phone filled up during the push (its df said there was room before it)."""
        free = self.free_bytes(parent)
        now = "unknown" if free is None else f"{free / 1e6:.1f} MB"
        return DeviceError(
            f"adb device {self.serial} ran out of space in {parent} pushing {local.name} "
            f"(needs {size / 1e6:.1f} MB, {now} free now; the phone said '{said}'): "
            "free space on the phone"
        )

    def pull(self, remote: str, local: Path) -> int:
        adbutils = _adbutils()
        sync = self._device().sync
        try:
            if not stat.S_ISREG(sync.stat(remote).mode):
                raise DeviceError(f"adb device {self.serial}: no file {remote} on the phone")
            return int(sync.pull_file(remote, local))
        except (adbutils.AdbError, OSError) as exc:
            raise DeviceError(
                f"adb device {self.serial}: pull of {remote} failed ({exc})"
            ) from None

    def forward(self, remote_port: int) -> int:
        adbutils = _adbutils()
        try:
            local = int(self._device().forward_port(remote_port))
        except (adbutils.AdbError, OSError) as exc:
            raise DeviceError(
                f"adb device {self.serial}: forward of port {remote_port} failed ({exc})"
            ) from None
        self._forwards.append(local)
        return local

    def workdir(self) -> str:
        if not self._workdir_made:
            result = self.run(["mkdir", "-p", self._workdir])
            if not result.ok:
                raise DeviceError(
                    f"adb device {self.serial}: cannot create {self._workdir} "
                    f"({result.stderr.strip()}): set another workdir in the inventory"
                )
            self._workdir_made = True
        return self._workdir

    # -- clock ---------------------------------------------------------------------------

    def clock_source(self) -> ClockSource:
        """The first of `CLOCK_SOURCES` the phone's shell can read."""
        if self._clock is None:
            for source in CLOCK_SOURCES:
                result = self.shell(source.command)
                try:
                    source.parse(result.stdout)
                except (ValueError, IndexError):
                    continue
                self._clock = source
                break
            else:
                raise DeviceError(f"adb device {self.serial}: no readable clock (/proc/uptime)")
        return self._clock

    def now_ns(self) -> int:
        source = self.clock_source()
        return source.parse(self.shell(source.command).stdout)

    def clock_offset(self) -> ClockOffset:
        """NTP-style over `CLOCK_EXCHANGES` shell round trips; a coarse clock's reading is
        taken at the middle of its step and half a step is added to the uncertainty."""
        source = self.clock_source()
        rows = []
        for _ in range(CLOCK_EXCHANGES):
            t0 = time.monotonic_ns()
            t1 = self.now_ns() + source.resolution_ns // 2
            t2 = time.monotonic_ns()
            rows.append((t0, t1, t2))
        offset = best_offset(rows, method=f"adb shell {source.name}")
        return replace(offset, uncertainty_ns=offset.uncertainty_ns + source.resolution_ns // 2)

    # -- facts ---------------------------------------------------------------------------

    def getprop(self) -> dict[str, str]:
        props = {}
        for line in self.run(["getprop"]).stdout.splitlines():
            key, sep, value = line.partition("]: [")
            if sep and key.startswith("[") and value.endswith("]"):
                props[key[1:]] = value[:-1]
        return props

    def run_guard(self, usb_power_off_cmd: str | None, usb_power_on_cmd: str | None) -> Any:
        """The phone's screen and brightness (and, with the user's commands, its USB power)
        held around each run and restored after it (`AndroidRunSettings`)."""
        from melt.devices.android_session import AndroidRunSettings

        return AndroidRunSettings(
            self, usb_power_off_cmd=usb_power_off_cmd, usb_power_on_cmd=usb_power_on_cmd
        )

    def facts(self) -> DeviceFacts:
        return read_android_facts(self, self._extra_facts)

    def close(self) -> None:
        """Remove what this device object left behind: its forwards, its stderr files."""
        if self._dev is not None and self._spawned:
            try:
                self.run(["rm", "-f", *self._spawned])
            except DeviceError as exc:
                log.warning("could not remove the spawned processes' stderr files: %s", exc)
        self._spawned.clear()
        if self._dev is not None:
            adb_error = _adbutils().AdbError
            for port in self._forwards:
                try:
                    self._dev.forward_remove(f"tcp:{port}", raise_non_found=False)
                except (adb_error, OSError) as exc:
                    log.warning("adb forward --remove tcp:%d: %s", port, exc)
        self._forwards.clear()
        self._dev = None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_END = object()


class AdbProcess:
    """A process started by `AdbDevice.spawn`: stdout lines read by a thread from its shell
    stream; the exit marker ends them. A stream that ends without it is a lost phone."""

    def __init__(self, device: AdbDevice, conn: Any, stderr_path: str, argv: Sequence[str]):
        self.device = device
        self.argv = tuple(argv)
        self._conn = conn
        self._stderr_path = stderr_path
        self._queue: Queue[object] = Queue()
        self._done = threading.Event()
        self.returncode: int | None = None
        self.lost: str | None = None
        first = self._read_line_blocking()
        if first is None or not first.startswith(PID_MARK):
            raise DeviceError(f"adb device {device.serial}: '{shlex.join(argv)}' did not start")
        self.pid = int(first.removeprefix(PID_MARK))
        self._thread = threading.Thread(target=self._pump, name=f"adb-{self.pid}", daemon=True)
        self._thread.start()

    def _read_line_blocking(self) -> str | None:
        data = bytearray()
        sock = self._conn.conn
        sock.settimeout(60)
        while not data.endswith(b"\n"):
            chunk = sock.recv(1)
            if not chunk:
                return None
            data += chunk
        return data[:-1].decode("utf-8", errors="replace")

    def _pump(self) -> None:
        sock = self._conn.conn
        sock.settimeout(None)
        pending = b""
        held_blank = False
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for raw in lines:
                    line = raw.decode("utf-8", errors="replace")
                    if line.startswith(EXIT_MARK):
                        self.returncode = int(line.removeprefix(EXIT_MARK))
                        return
                    if held_blank:
                        self._queue.put("")
                        held_blank = False
                    if line == "":
                        held_blank = True  # may be the newline the wrapper prints before its mark
                    else:
                        self._queue.put(line)
        except OSError as exc:
            self.lost = str(exc)
        finally:
            if self.returncode is None and self.lost is None:
                self.lost = "the shell stream ended without the exit status"
            self._conn.close()
            self._done.set()
            self._queue.put(_END)

    def lines(self) -> Iterator[str]:
        while (item := self._queue.get()) is not _END:
            assert isinstance(item, str)
            yield item
        self._queue.put(_END)
        if self.lost is not None:
            raise DeviceError(f"adb device {self.device.serial}: connection lost ({self.lost})")

    def write(self, text: str) -> None:
        try:
            self._conn.conn.sendall(text.encode())
        except OSError as exc:
            raise self.device._lost(exc) from None

    def close_stdin(self) -> None:
        """Shell protocol v1 cannot close stdin alone: the process's stdin stays open until
        the stream closes (when it exits or is signalled)."""

    def signal(self, signum: int) -> None:
        if self._done.is_set():
            return
        self.device.run(["kill", f"-{int(signum)}", str(self.pid)])

    def wait(self, timeout: float | None = None) -> int:
        if not self._done.wait(timeout):
            raise DeviceError(
                f"adb device {self.device.serial}: pid {self.pid} "
                f"('{shlex.join(self.argv)}') still running after {timeout} s"
            )
        if self.returncode is None:
            raise DeviceError(f"adb device {self.device.serial}: connection lost ({self.lost})")
        return self.returncode

    def stderr_tail(self, lines: int = 20) -> str:
        result = self.device.run(["tail", "-n", str(lines), self._stderr_path])
        return result.stdout if result.ok else ""
