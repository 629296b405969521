"""A device as a server framework's host (`frameworks.llama_server.host.ServerHost`).

The runners that put a server framework on a device hand it one of these: files pushed by
content, processes, a free port, the port forward and `/proc/<pid>` all go through the
device's own transport, so llama-server runs the same way here, on an SSH board or a phone.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from melt.devices.base import Device, DeviceError, DeviceProcess
from melt.devices.deploy import ensure_file, ensure_model, file_sha256
from melt.devices.proc import stat_cpu_ticks
from melt.frameworks.llama_server.host import Placed
from melt.runtimes.cache import runtime_of

if TYPE_CHECKING:
    from melt.models import Artifact

PORT_RANGE = (20000, 60000)


def used_ports(device: Device) -> set[int]:
    """TCP ports bound on the device, from `/proc/net/tcp{,6}` through its file view."""
    used: set[int] = set()
    tables = device.read_many(["/proc/net/tcp", "/proc/net/tcp6"])
    for text in tables.values():
        for line in (text or "").splitlines()[1:]:
            fields = line.split()
            if len(fields) > 1 and ":" in fields[1]:
                used.add(int(fields[1].rsplit(":", 1)[1], 16))
    return used


def free_port(device: Device, rng: random.Random | None = None) -> int:
    """A TCP port nothing on the device is bound to (llama-server cannot take `--port 0`)."""
    used = used_ports(device)
    rng = rng or random.Random()
    for _ in range(1000):
        port = rng.randrange(*PORT_RANGE)
        if port not in used:
            return port
    raise DeviceError(f"{device.name}: no free TCP port in {PORT_RANGE[0]}–{PORT_RANGE[1]}")


class DeviceServerHost:
    """`ServerHost` over a `Device`."""

    def __init__(self, device: Device) -> None:
        self.device = device
        self.name = device.name
        self.local = device.on_controller

    @property
    def configured_binary(self) -> str | None:
        value = self.device.facts().extra.get("llama_server")
        return str(value) if value else None

    @property
    def abi(self) -> str | None:
        return self.device.facts().arch

    def put_binary(self, binary: str) -> Placed:
        """As given on the local device, or when it is not a file here (a path on the
        device); otherwise pushed into the device's workdir under its sha256 (not again
        when it is there) and made executable. A tool of a melt runtime goes, with the
        runtime's libraries (its RPATH is `$ORIGIN`), into `<workdir>/runtimes/<id>/`; the
        tool first, so a build for another ABI is refused before anything is sent."""
        local = Path(binary)
        if self.local or not local.is_file():
            return Placed(binary, 0)
        runtime = runtime_of(local)
        if runtime is None:
            sha256 = file_sha256(local)
            return self._put(local, f"{self.device.workdir()}/bin/{sha256[:16]}-{local.name}")
        runtime.verify(local.name)
        folder = f"{self.device.workdir()}/runtimes/{runtime.id}"
        placed = self._put(local, f"{folder}/{local.name}", runtime.file_sha256(local.name))
        pushed = placed.bytes_pushed
        for name, entry in runtime.provenance.get("libraries", {}).items():
            pushed += self._put(
                runtime.path / name, f"{folder}/{name}", entry["sha256"]
            ).bytes_pushed
        return Placed(placed.path, pushed)

    def _put(self, local: Path, remote: str, sha256: str | None = None) -> Placed:
        deployed = ensure_file(self.device, local, remote, sha256 or file_sha256(local))
        result = self.device.run(["chmod", "755", remote])
        if not result.ok:
            raise DeviceError(f"{self.name}: chmod {remote} failed: {result.stderr.strip()}")
        return Placed(deployed.path, deployed.bytes_pushed)

    def put_model(self, artifact: Artifact) -> Placed:
        deployed = ensure_model(self.device, artifact.path, artifact.sha256)
        return Placed(deployed.path, deployed.bytes_pushed)

    def run(self, argv: Sequence[str], timeout: float) -> tuple[int, str]:
        result = self.device.run(argv, timeout=timeout)
        return result.returncode, result.stdout + result.stderr

    def spawn(self, argv: Sequence[str]) -> DeviceProcess:
        return self.device.spawn(argv)

    def free_port(self) -> int:
        return free_port(self.device)

    def workdir(self) -> str:
        return self.device.workdir()

    def forward(self, port: int) -> int:
        return self.device.forward(port)

    def cpu_ticks(self, pid: int) -> int | None:
        try:
            return stat_cpu_ticks(self.device.read_text(f"/proc/{pid}/stat"))
        except (OSError, DeviceError, ValueError, IndexError):
            return None

    def clock_ticks_per_s(self) -> tuple[int, str]:
        """USER_HZ of the device (the unit of /proc/<pid>/stat times), and where it came
        from."""
        try:
            text = self.device.run(["getconf", "CLK_TCK"], timeout=30).stdout.strip()
        except DeviceError:
            text = ""
        if text.isdigit() and int(text) > 0:
            return int(text), "getconf CLK_TCK on the device"
        return 100, "USER_HZ 100 (Linux's on every ABI; the device has no getconf)"
