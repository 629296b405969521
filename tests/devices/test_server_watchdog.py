"""llama-server on the loopback SSH board does not outlive the melt that started it: when
the controller is killed, or its SSH connection closes, the server (model loaded) is
stopped on the board by its watchdog (issue 24, item 8)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.bench_process import SRC
from tests.waiting import wait_until

from melt.config import RunSettings
from melt.devices.inventory import find_entry, load_inventory, open_device
from melt.frameworks import FrameworkOptions
from melt.frameworks.llama_server.process import spawn_guarded
from melt.models import Artifact
from melt.runners.select import make_runner
from melt.runners.server_host import DeviceServerHost

SETTINGS = RunSettings(threads=1, ctx=512, max_new_tokens=8)

CONTROLLER = """
import sys
from pathlib import Path
from melt.config import RunSettings
from melt.devices.inventory import find_entry, load_inventory, open_device
from melt.frameworks import FrameworkOptions
from melt.models import resolve_model
from melt.runners.select import make_runner

device = open_device(find_entry(load_inventory(Path(sys.argv[1])), "board"))
options = FrameworkOptions(server_binary=sys.argv[2])
runner = make_runner(device, "llama-server", device.facts(), options)
runner.load("llama-server", resolve_model(sys.argv[3]), RunSettings(threads=1, ctx=512))
print(runner.engine_pid(), flush=True)
sys.stdin.read()
"""


def _running(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


def _is_llama_server(pid: int) -> bool:
    return b"llama-server" in Path(f"/proc/{pid}/cmdline").read_bytes()


def test_a_killed_controller_leaves_no_server_on_the_board(
    inventory: Callable[..., Path], llama_server_binary: Path, bundled: Artifact
) -> None:
    argv = [sys.executable, "-c", CONTROLLER, str(inventory()), str(llama_server_binary)]
    controller = subprocess.Popen(
        [*argv, bundled.name],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(SRC)},
    )
    try:
        assert controller.stdout is not None
        pid = int(controller.stdout.readline())
        assert _running(pid) and _is_llama_server(pid)
        controller.send_signal(signal.SIGKILL)  # no cleanup runs in melt
        controller.wait(timeout=30)
        assert wait_until(lambda: not _running(pid), timeout_s=60)
    finally:
        if controller.poll() is None:
            controller.kill()
            controller.wait(timeout=30)


def test_a_closed_ssh_connection_stops_the_server_on_the_board(
    inventory: Callable[..., Path], llama_server_binary: Path, bundled: Artifact
) -> None:
    device = open_device(find_entry(load_inventory(inventory()), "board"))
    options = FrameworkOptions(server_binary=str(llama_server_binary))
    runner = make_runner(device, "llama-server", device.facts(), options)
    engine = runner.load("llama-server", bundled, SETTINGS)
    pid = runner.engine_pid()
    assert pid is not None and _running(pid) and _is_llama_server(pid)
    device.close()  # the connection goes; nothing asks the server to stop
    try:
        assert wait_until(lambda: not _running(pid), timeout_s=60)
    finally:
        if _running(pid):
            os.kill(pid, signal.SIGKILL)
        engine.engine.client.close()


def test_the_watchdog_alone_stops_any_server_when_the_connection_closes(
    inventory: Callable[..., Path],
) -> None:
    """The mechanism without a model: a `sleep` standing for the server."""
    device = open_device(find_entry(load_inventory(inventory()), "board"))
    server = spawn_guarded(DeviceServerHost(device), ["sleep", "600"], port=0)
    assert _running(server.pid)
    assert Path(f"/proc/{server.pid}/cmdline").read_bytes().startswith(b"sleep")
    device.close()
    try:
        assert wait_until(lambda: not _running(server.pid), timeout_s=60)
    finally:
        if _running(server.pid):
            os.kill(server.pid, signal.SIGKILL)
