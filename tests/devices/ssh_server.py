"""A real OpenSSH server on 127.0.0.1 for the tests: a private `sshd` on a free port with
throwaway host and client keys, started by PID and stopped by PID, and a bare Python
virtual environment holding only llama-cpp-python as the "device" melt deploys to.

Nothing here is a stand-in: the server is Debian's openssh-server, the client is paramiko,
and the device's Python is a real interpreter without melt (melt ships its runner to it).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.runtimes.ci_runtimes import ci_ccache

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
LLAMA_CPP_PYTHON = "llama-cpp-python==0.3.36"
READY_TIMEOUT_S = 20.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sshd exited with {proc.returncode}: {proc.stderr.read()!r}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                if s.recv(4).startswith(b"SSH-"):
                    return
        except OSError:
            pass
        time.sleep(0.05)  # polling a condition with a deadline, not a fixed wait
    raise RuntimeError(f"sshd did not listen on {port} within {READY_TIMEOUT_S} s")


def keygen(path: Path) -> Path:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path


@dataclass
class Sshd:
    """One running sshd and the client material to reach it."""

    dir: Path
    port: int
    host_key: Path
    client_key: Path
    proc: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def host_key_line(self) -> str:
        """The known_hosts line for this server's key."""
        kind, key = self.host_key.with_suffix(".pub").read_text().split()[:2]
        return f"[127.0.0.1]:{self.port} {kind} {key}\n"

    def session_pids(self) -> list[int]:
        """Processes of sshd serving connections (children of the listener)."""
        out = subprocess.run(
            ["pgrep", "-P", str(self.pid)], capture_output=True, text=True, check=False
        ).stdout
        return [int(p) for p in out.split()]

    def drop_connections(self) -> int:
        """Kill every session process: the network connection drops as a cable pull would."""
        pids = self.session_pids()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return len(pids)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_sshd(directory: Path, sftp: bool = True) -> Sshd:
    """An sshd on a free port; `sftp=False` leaves out the SFTP subsystem, as Dropbear and
    trimmed OpenSSH builds on boards do (only a shell is there)."""
    directory.mkdir(parents=True, exist_ok=True)
    host_key = keygen(directory / "host_ed25519")
    client_key = keygen(directory / "client_ed25519")
    authorized = directory / "authorized_keys"
    authorized.write_text(client_key.with_suffix(".pub").read_text())
    authorized.chmod(0o600)
    port = free_port()
    config = directory / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"Port {port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {host_key}",
                f"PidFile {directory / 'sshd.pid'}",
                f"AuthorizedKeysFile {authorized}",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                "StrictModes no",
                "PermitRootLogin prohibit-password",
                "Subsystem sftp internal-sftp" if sftp else "",
                "LogLevel ERROR",
                "MaxStartups 50",
                "MaxSessions 50",
                # this machine's CI compiler cache, as a board's admin would set its own
                f"SetEnv CCACHE_DIR={ci_ccache()}",
                "",
            ]
        )
    )
    Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # privilege separation directory
    proc = subprocess.Popen(
        [SSHD, "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _wait_for_port(port, proc)
    return Sshd(directory, port, host_key, client_key, proc)


def device_python(cache: Path) -> Path:
    """A bare venv with llama-cpp-python only (built once, reused: the wheel comes from
    $MELT_WHEELS, else the wheel folder `.ci/setup` fills under the cache, else pip's own
    cache of the wheel the main install built)."""
    wheels = os.environ.get("MELT_WHEELS") or str(cache / "wheels")
    built = sorted(Path(wheels).glob("llama_cpp_python-*.whl")) if Path(wheels).is_dir() else []
    # keyed by the wheel it holds: a rebuilt wheel (other flags) makes a new venv
    key = ",".join(f"{w.name}:{w.stat().st_size}:{w.stat().st_mtime_ns}" for w in built)
    venv = cache / f"device-venv-py{sys.version_info.major}{sys.version_info.minor}"
    python = venv / "bin" / "python"
    marker = venv / ".melt-ready"
    if marker.exists() and marker.read_text() == f"ok {key}\n":
        return python
    if venv.exists():
        shutil.rmtree(venv)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    if Path(wheels).is_dir():
        pip += ["--find-links", wheels]
    subprocess.run([*pip, LLAMA_CPP_PYTHON], check=True)
    marker.write_text(f"ok {key}\n")
    return python
