"""A Linux board (a Jetson, a Raspberry Pi, a laptop, Termux on a phone) over SSH.

One paramiko connection per device carries everything: commands and long-lived processes
on their own channels, files over SFTP (or `cat` on an exec channel where the server has no
SFTP subsystem), ports forwarded through `direct-tcpip` channels, and
a tiny clock process for the device's CLOCK_MONOTONIC. Host keys are verified against
known_hosts; an unknown key is refused with its fingerprint unless the user accepts it
explicitly (`--accept-new-host-key`, OpenSSH's accept-new), and a changed key is always
refused. Passwords are never used: keys from the inventory, ~/.ssh/config, ~/.ssh/id_* or
the agent.
"""

from __future__ import annotations

import base64
import errno
import getpass
import hashlib
import json
import logging
import os
import select
import shlex
import socket
import stat
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from melt.devices.base import ClockOffset, CommandResult, DeviceError, DeviceFacts, best_offset
from melt.devices.facts import facts_from_dict
from melt.devices.fspath import DevicePath
from melt.devices.process import StreamProcess
from melt.errors import MeltError
from melt.extras import install_hint

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 15.0
CLOCK_EXCHANGES = 16
KEEPALIVE_S = 5
_CLOCK = "import sys,time\nfor _ in sys.stdin:\n print(time.monotonic_ns(),flush=True)\n"
_READ_MANY = (
    "import json,sys\nout={}\nfor p in sys.argv[1:]:\n try:\n  out[p]=open(p).read()\n"
    " except Exception:\n  out[p]=None\nprint(json.dumps(out))\n"
)


@dataclass(frozen=True, slots=True)
class SshTarget:
    """Where and as whom to connect, after ~/.ssh/config has been applied."""

    name: str
    host: str
    port: int
    user: str
    identity_file: str | None
    known_hosts: str
    python: str
    workdir: str
    extra: Mapping[str, Any]


def fingerprint(key: Any) -> str:
    """OpenSSH's SHA256 fingerprint of a host key (`ssh-keygen -lf`)."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def _host_entry(host: str, port: int) -> str:
    return host if port == 22 else f"[{host}]:{port}"


def _paramiko() -> Any:
    try:
        import paramiko
    except ImportError:
        raise MeltError(
            f"SSH devices need paramiko (melt depends on it): {install_hint()}"
        ) from None
    return paramiko


def resolve_target(
    name: str,
    host: str,
    port: int | None,
    user: str | None,
    identity_file: str | None,
    known_hosts: str | None,
    python: str,
    workdir: str,
    extra: Mapping[str, Any],
    ssh_config: Path | None = None,
) -> SshTarget:
    """Fill what the inventory left out from ~/.ssh/config, then the login name."""
    paramiko = _paramiko()
    config_path = ssh_config or Path("~/.ssh/config").expanduser()
    found: dict[str, Any] = {}
    if config_path.is_file():
        found = paramiko.SSHConfig.from_path(str(config_path)).lookup(host)
    identities = found.get("identityfile") or []
    return SshTarget(
        name=name,
        host=found.get("hostname", host),
        port=int(port or found.get("port", 22)),
        user=user or found.get("user") or getpass.getuser(),
        identity_file=os.path.expanduser(identity_file or (identities[0] if identities else ""))
        or None,
        known_hosts=os.path.expanduser(known_hosts or "~/.ssh/known_hosts"),
        python=python,
        workdir=workdir,
        extra=dict(extra),
    )


def _file_problem(path: str) -> str | None:
    """Why melt cannot read the controller file `path`, or None."""
    if not os.path.exists(path):
        return "does not exist"
    if not os.path.isfile(path):
        return "is not a file"
    return None if os.access(path, os.R_OK) else "cannot be read"


def _check_own_files(name: str, t: SshTarget) -> None:
    """The controller's own files, before connecting: what is wrong with one of them is the
    user's to fix (exit 2), not a device that cannot be reached."""
    problem = None if t.identity_file is None else _file_problem(t.identity_file)
    if problem is not None:
        raise MeltError(
            f"device '{name}': identity_file {t.identity_file} {problem}; fix identity_file in "
            "the inventory, or remove it to use ~/.ssh/id_* and the agent"
        )
    problem = _file_problem(t.known_hosts)
    if problem is not None and os.path.exists(t.known_hosts):  # a missing one is made
        raise MeltError(
            f"device '{name}': known_hosts {t.known_hosts} {problem}; set known_hosts in the "
            "inventory to a readable file"
        )


class SshDevice:
    transport = "ssh"
    on_controller = False
    no_runner: str | None = None

    def __init__(self, target: SshTarget, accept_new_host_key: bool = False) -> None:
        self.target = target
        self.name = target.name
        self.python = target.python
        self._accept_new = accept_new_host_key
        self._client: Any = None
        self._file_ops: _SftpFiles | _ShellFiles | None = None
        self._clock: StreamProcess | None = None
        self._clock_lock = threading.Lock()
        self._workdir: str | None = None
        self._forwards: list[_Forward] = []

    # --- connection ----------------------------------------------------------------------

    def _where(self) -> str:
        t = self.target
        return f"{t.user}@{t.host}:{t.port}"

    def connect(self) -> Any:
        if self._client is not None:
            return self._client
        paramiko = _paramiko()
        t = self.target
        _check_own_files(self.name, t)
        client = paramiko.SSHClient()
        if os.path.exists(t.known_hosts):
            client.load_host_keys(t.known_hosts)
        client.set_missing_host_key_policy(_HostKeyPolicy(self, paramiko))
        try:
            client.connect(
                t.host,
                port=t.port,
                username=t.user,
                key_filename=t.identity_file,
                allow_agent=True,
                look_for_keys=t.identity_file is None,
                timeout=CONNECT_TIMEOUT_S,
                banner_timeout=CONNECT_TIMEOUT_S,
                auth_timeout=CONNECT_TIMEOUT_S,
                password=None,
            )
        except MeltError:  # DeviceError included
            client.close()
            raise
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise DeviceError(
                f"device '{self.name}': the host key of {_host_entry(t.host, t.port)} CHANGED "
                f"(it offers {fingerprint(exc.key)}, {t.known_hosts} has "
                f"{fingerprint(exc.expected_key)}); if the device was reinstalled, remove its "
                "line from known_hosts and accept the new key"
            ) from None
        except paramiko.AuthenticationException as exc:
            client.close()
            key = t.identity_file or "~/.ssh/id_* and the agent"
            raise DeviceError(
                f"device '{self.name}': {self._where()} refused the key ({exc}); check "
                f"identity_file ({key}) and the device's ~/.ssh/authorized_keys"
            ) from None
        except (OSError, paramiko.SSHException) as exc:
            client.close()
            raise DeviceError(
                f"device '{self.name}': cannot reach {self._where()} ({exc}); check host and "
                "port in the inventory and that sshd runs there"
            ) from None
        transport = client.get_transport()
        transport.set_keepalive(KEEPALIVE_S)
        self._client = client
        return client

    def _transport(self) -> Any:
        transport = self.connect().get_transport()
        if transport is None or not transport.is_active():
            raise DeviceError(
                f"device '{self.name}': the SSH connection to {self._where()} is closed"
            )
        return transport

    def close(self) -> None:
        for forward in self._forwards:
            forward.close()
        self._forwards.clear()
        if self._clock is not None:
            self._clock.close_stdin()
            self._clock = None
        if self._file_ops is not None:
            self._file_ops.close()
            self._file_ops = None
        if self._client is not None:
            self._client.close()
            self._client = None

    # --- commands and processes ----------------------------------------------------------

    def _channel(
        self, argv: Sequence[str], env: Mapping[str, str] | None = None
    ) -> tuple[Any, int]:
        """A channel running `argv` under `exec` in the login shell, and its pid there."""
        exports = "".join(f"export {k}={shlex.quote(v)}; " for k, v in (env or {}).items())
        command = f"echo $$; {exports}exec {shlex.join(argv)}"
        try:
            channel = self._transport().open_session()
            channel.exec_command(command)
        except MeltError:  # DeviceError included: already one line
            raise
        except Exception as exc:
            raise DeviceError(f"device '{self.name}': cannot start '{argv[0]}' ({exc})") from None
        stdout = channel.makefile("rb")
        first = stdout.readline()
        try:
            pid = int(first)
        except ValueError:
            raise DeviceError(
                f"device '{self.name}': the shell did not start '{argv[0]}' (said {first!r})"
            ) from None
        return channel, stdout, pid

    def run(self, argv: Sequence[str], timeout: float = 60.0) -> CommandResult:
        channel, stdout, pid = self._channel(argv)
        stderr = channel.makefile_stderr("rb")
        if not channel.status_event.wait(timeout):
            self._kill(pid)
            channel.close()
            raise DeviceError(
                f"device '{self.name}': '{shlex.join(argv)[:80]}' did not finish within "
                f"{timeout:g} s (stopped it)"
            )
        code = channel.recv_exit_status()
        out = stdout.read().decode("utf-8", errors="replace")
        err = stderr.read().decode("utf-8", errors="replace")
        channel.close()
        if code == -1:
            raise DeviceError(f"device '{self.name}': the connection closed during '{argv[0]}'")
        return CommandResult(tuple(argv), code, out, err)

    def _kill(self, pid: int, signum: int = 9) -> None:
        try:
            channel = self._transport().open_session()
            # sshd starts each session in its own process group (the pid we exec'd into),
            # so the group takes children with it; fall back to the pid alone.
            channel.exec_command(f"kill -{signum} -- -{pid} 2>/dev/null || kill -{signum} {pid}")
            channel.status_event.wait(5)
            channel.close()
        except Exception as exc:  # the connection itself may be what failed
            log.debug("cannot signal %d on %s: %s", pid, self.name, exc)

    def spawn(self, argv: Sequence[str], env: Mapping[str, str] | None = None) -> StreamProcess:
        channel, stdout, pid = self._channel(argv, env)

        def wait(timeout: float | None) -> int:
            if not channel.status_event.wait(timeout):
                raise DeviceError(
                    f"device '{self.name}': process {pid} still running after {timeout} s"
                )
            return int(channel.recv_exit_status())

        return StreamProcess(
            pid,
            channel.makefile_stdin("wb"),
            stdout,
            channel.makefile_stderr("rb"),
            lambda signum: self._kill(pid, signum),
            wait,
        )

    # --- file view -----------------------------------------------------------------------

    def path(self, path: str = "/") -> DevicePath:
        return DevicePath(self, path)

    def _files(self) -> _SftpFiles | _ShellFiles:
        """How files move: SFTP where the server offers it, else plain commands on an exec
        channel (Dropbear and trimmed OpenSSH builds have no SFTP subsystem; a shell is all
        a board needs)."""
        if self._file_ops is None:
            paramiko = _paramiko()
            client = self.connect()
            try:
                self._file_ops = _SftpFiles(self.name, client.open_sftp())
            except (paramiko.SSHException, EOFError) as exc:
                log.info("device %s: no SFTP (%s); moving files over exec channels", self.name, exc)
                self._file_ops = _ShellFiles(self)
        return self._file_ops

    def read_text(self, path: str) -> str:
        return self._files().read_text(path)

    def list_dir(self, path: str) -> list[str]:
        return sorted(self._files().list_dir(path))

    def exists(self, path: str) -> bool:
        return self._files().kind(path) is not None

    def is_dir(self, path: str) -> bool:
        return self._files().kind(path) == "dir"

    def read_many(self, paths: Sequence[str]) -> dict[str, str | None]:
        if not paths:
            return {}
        result = self.run([self.python, "-c", _READ_MANY, *paths], timeout=30.0)
        if not result.ok:
            raise DeviceError(f"device '{self.name}': reading files failed ({result.stderr[:200]})")
        return json.loads(result.stdout)

    def write_text(self, path: str, text: str) -> None:
        result = self.run(["sh", "-c", 'printf %s "$1" > "$2"', "sh", text, path], timeout=30.0)
        if not result.ok:
            raise OSError(f"{self.name}:{path}: {result.stderr.strip()}")

    def push(self, local: Path, remote: str) -> int:
        try:
            return self._files().put(local, remote)
        except OSError as exc:
            raise DeviceError(
                f"device '{self.name}': copying {local.name} failed ({exc})"
            ) from None

    def pull(self, remote: str, local: Path) -> int:
        return self._files().get(remote, local)

    def workdir(self) -> str:
        if self._workdir is None:
            wanted = self.target.workdir
            if wanted.startswith("~/"):
                wanted = '"$HOME"/' + shlex.quote(wanted[2:])
            else:
                wanted = shlex.quote(wanted)
            result = self.run(["sh", "-c", f"mkdir -p {wanted} && cd {wanted} && pwd"])
            if not result.ok:
                raise DeviceError(
                    f"device '{self.name}': cannot create workdir {self.target.workdir} "
                    f"({result.stderr.strip()[:200]}); set another workdir in the inventory"
                )
            self._workdir = result.stdout.strip()
        return self._workdir

    # --- time ----------------------------------------------------------------------------

    def _clock_process(self) -> StreamProcess:
        if self._clock is None:
            self._clock = self.spawn([self.python, "-c", _CLOCK])
            self._clock_lines = self._clock.lines()
        return self._clock

    def now_ns(self) -> int:
        with self._clock_lock:
            clock = self._clock_process()
            clock.write("\n")
            line = next(self._clock_lines, None)
        if line is None:
            raise DeviceError(f"device '{self.name}': the clock process ended")
        return int(line)

    def clock_offset(self) -> ClockOffset:
        import time

        rows = []
        self.now_ns()  # start the process and warm the channel
        for _ in range(CLOCK_EXCHANGES):
            t0 = time.monotonic_ns()
            t1 = self.now_ns()
            t2 = time.monotonic_ns()
            rows.append((t0, t1, t2))
        return best_offset(rows, f"NTP-style, {CLOCK_EXCHANGES} exchanges over the SSH channel")

    # --- facts and ports -----------------------------------------------------------------

    def facts(self) -> DeviceFacts:
        from melt.devices.deploy import ensure_runner

        runner = ensure_runner(self)
        request = {
            "name": self.name,
            "transport": self.transport,
            "workdir": self.workdir(),
            "extra": dict(self.target.extra),
        }
        result = self.run([self.python, runner.path, "facts", json.dumps(request)], timeout=60.0)
        if not result.ok:
            said = result.stderr.strip().splitlines()
            why = said[-1][:200] if said else f"exit status {result.returncode}"
            hint = " (is Python >= 3.9 there? set python: in the inventory)"
            raise DeviceError(
                f"device '{self.name}': {self.python} could not run melt's runner ({why}){hint}"
            )
        return facts_from_dict(json.loads(result.stdout))

    def forward(self, remote_port: int) -> int:
        forward = _Forward(self, remote_port)
        self._forwards.append(forward)
        return forward.local_port


class _SftpFiles:
    """Files over the server's SFTP subsystem."""

    def __init__(self, name: str, sftp: Any) -> None:
        self.name = name
        self.sftp = sftp

    def read_text(self, path: str) -> str:
        try:
            with self.sftp.open(path, "r") as fh:
                return fh.read().decode("utf-8")
        except OSError:
            raise
        except Exception as exc:
            raise OSError(f"{self.name}:{path}: {exc}") from None

    def list_dir(self, path: str) -> list[str]:
        return list(self.sftp.listdir(path))

    def kind(self, path: str) -> str | None:
        """'dir', 'file' (anything else that exists) or None."""
        try:
            st = self.sftp.stat(path)
        except OSError:
            return None
        return "dir" if stat.S_ISDIR(st.st_mode or 0) else "file"

    def put(self, local: Path, remote: str) -> int:
        return int(self.sftp.put(str(local), remote).st_size or 0)

    def get(self, remote: str, local: Path) -> int:
        self.sftp.get(remote, str(local))
        return local.stat().st_size

    def close(self) -> None:
        self.sftp.close()


_KIND = 'if [ -d "$1" ]; then echo dir; elif [ -e "$1" ]; then echo file; fi'
_PUT = 'cat > "$1" && wc -c < "$1"'
_GET = 'wc -c < "$1" && exec cat < "$1"'
_BLOCK = 1 << 16


class _ShellFiles:
    """Files over exec channels, for a server without SFTP: `cat` both ways, the size
    counted on the device (`wc -c`) and checked against the bytes sent or received."""

    def __init__(self, device: SshDevice) -> None:
        self.device = device
        self.name = device.name

    def _sh(self, script: str, path: str) -> CommandResult:
        return self.device.run(["sh", "-c", script, "sh", path], timeout=60.0)

    def _error(self, path: str, said: str) -> OSError:
        why = said.strip().splitlines()[-1][:200] if said.strip() else "failed"
        if "No such file" in said:
            return FileNotFoundError(errno.ENOENT, f"{self.name}:{path}: {why}")
        return OSError(f"{self.name}:{path}: {why}")

    def read_text(self, path: str) -> str:
        result = self._sh('cat < "$1"', path)
        if not result.ok:
            raise self._error(path, result.stderr)
        return result.stdout

    def list_dir(self, path: str) -> list[str]:
        result = self._sh('cd "$1" && ls -A', path)
        if not result.ok:
            raise self._error(path, result.stderr)
        return result.stdout.splitlines()

    def kind(self, path: str) -> str | None:
        return self._sh(_KIND, path).stdout.strip() or None

    def _open(self, script: str, path: str) -> Any:
        channel = self.device._transport().open_session()
        channel.exec_command(shlex.join(["sh", "-c", script, "sh", path]))
        return channel

    def _finish(self, channel: Any, path: str) -> bytes:
        """The rest of stdout; raises with stderr when the command failed."""
        out = channel.makefile("rb").read()
        code = channel.recv_exit_status()
        said = channel.makefile_stderr("rb").read().decode("utf-8", errors="replace")
        channel.close()
        if code != 0:
            raise self._error(path, said or f"exit status {code}")
        return out

    def put(self, local: Path, remote: str) -> int:
        size = local.stat().st_size
        channel = self._open(_PUT, remote)
        with local.open("rb") as fh:
            while block := fh.read(_BLOCK):
                channel.sendall(block)
        channel.shutdown_write()
        arrived = self._finish(channel, remote).strip()
        if arrived != str(size).encode():
            raise OSError(f"{remote} holds {arrived.decode(errors='replace')} of {size} bytes")
        return size

    def get(self, remote: str, local: Path) -> int:
        channel = self._open(_GET, remote)
        stdout = channel.makefile("rb")
        first = stdout.readline().strip()
        received = 0
        with local.open("wb") as fh:
            while block := stdout.read(_BLOCK):
                fh.write(block)
                received += len(block)
        self._finish(channel, remote)
        if not first.isdigit() or int(first) != received:
            raise DeviceError(
                f"device '{self.name}': copying {remote} back gave {received} bytes, the "
                f"device counted {first.decode(errors='replace')}"
            )
        return received

    def close(self) -> None:
        return None


class _HostKeyPolicy:
    """Unknown host key: refuse with its fingerprint, or record it when the user said so."""

    def __init__(self, device: SshDevice, paramiko: Any) -> None:
        self.device = device
        self.paramiko = paramiko

    def missing_host_key(self, client: Any, hostname: str, key: Any) -> None:
        t = self.device.target
        if not self.device._accept_new:
            raise DeviceError(
                f"device '{self.device.name}': unknown host key {fingerprint(key)} "
                f"({key.get_name()}) for {hostname}; check it on the device "
                "(ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), then pass --accept-new-host-key "
                f"to record it in {t.known_hosts}"
            )
        client.get_host_keys().add(hostname, key.get_name(), key)
        try:
            Path(t.known_hosts).parent.mkdir(parents=True, exist_ok=True)
            client.save_host_keys(t.known_hosts)
        except OSError as exc:
            raise MeltError(
                f"device '{self.device.name}': cannot record the host key in known_hosts "
                f"{t.known_hosts} ({exc.strerror or exc}); make it writable or set known_hosts "
                "in the inventory to a file you can write"
            ) from None
        log.warning(
            "device %s: recorded host key %s in %s",
            self.device.name,
            fingerprint(key),
            t.known_hosts,
        )


class _Forward:
    """A controller port whose connections reach the device's 127.0.0.1:`remote_port`."""

    def __init__(self, device: SshDevice, remote_port: int) -> None:
        self.device = device
        self.remote_port = remote_port
        self._server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(8)
        self.local_port = int(self._server.getsockname()[1])
        self._closed = threading.Event()
        threading.Thread(target=self._accept, name=f"forward-{remote_port}", daemon=True).start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, peer = self._server.accept()
            except OSError:
                return
            try:
                channel = self.device._transport().open_channel(
                    "direct-tcpip", ("127.0.0.1", self.remote_port), peer
                )
            except Exception as exc:
                log.debug("forward to %d failed: %s", self.remote_port, exc)
                conn.close()
                continue
            threading.Thread(target=_pipe, args=(conn, channel), daemon=True).start()

    def close(self) -> None:
        self._closed.set()
        self._server.close()


def _pipe(sock: socket.socket, channel: Any) -> None:
    try:
        while True:
            ready, _, _ = select.select([sock, channel], [], [], 1.0)
            if sock in ready:
                data = sock.recv(65536)
                if not data:
                    break
                channel.sendall(data)
            if channel in ready:
                data = channel.recv(65536)
                if not data:
                    break
                sock.sendall(data)
    except OSError:
        pass
    finally:
        channel.close()
        sock.close()
