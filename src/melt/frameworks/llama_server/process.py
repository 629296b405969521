"""Starting llama-server on a device: a free port, the watchdog, `/health`, and stopping it.

The server is stopped by its wrapper whatever happens (the engine's `close`, a failure,
Ctrl-C): SIGTERM, then SIGKILL after the watchdog's grace; and by the watchdog alone when
melt's connection to the device is gone (`watchdog.py`).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from melt.errors import MeltError
from melt.frameworks.llama_server.host import HostProcess, ServerHost
from melt.frameworks.llama_server.watchdog import GRACE_S, guarded, server_pid
from melt.frameworks.openai.client import Endpoint, HttpClient, ServerError

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 180.0
STOP_WAIT_S = GRACE_S + 5.0  # the watchdog kills at GRACE_S; this is melt's own last resort
PORT_ATTEMPTS = 3
OUTPUT_LINES = 3


def last_lines(text: str, lines: int = OUTPUT_LINES) -> str:
    """The last non-blank lines of a program's output on one line ('nothing' when none)."""
    kept = [" ".join(line.split()) for line in text.splitlines() if line.strip()][-lines:]
    return " | ".join(kept) or "nothing"


class ServerStartError(MeltError):
    """llama-server did not come up: a wrong binary, a model it cannot load, a port taken."""

    def __init__(self, message: str, exit_code: int | None, stderr: str) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.stderr = stderr

    @property
    def port_taken(self) -> bool:
        return "bind" in self.stderr.lower() and self.exit_code is not None


@dataclass(slots=True)
class ServerProcess:
    """A llama-server running on a device under its watchdog; `pid` is the server's own
    (for its `/proc/<pid>`); `stop` ends it and is safe to call twice."""

    host: ServerHost
    process: HostProcess
    argv: list[str]
    port: int
    pid: int
    stopped: bool = False

    def exited(self) -> int | None:
        """The exit status if it has ended, polling for up to 0.2 s."""
        try:
            return self.process.wait(timeout=0.2)
        except MeltError:
            return None

    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        self.process.signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_WAIT_S)
        except MeltError:
            log.warning(
                "llama-server (pid %d on %s) outlived SIGTERM for %.0f s; killing it",
                self.pid,
                self.host.name,
                STOP_WAIT_S,
            )
            self.process.signal(signal.SIGKILL)
            self.process.wait(timeout=STOP_WAIT_S)


def wait_ready(server: ServerProcess, client: HttpClient, timeout_s: float) -> None:
    """Poll `/health` until it says ok; a server that exits or never gets there is an error
    carrying its last output lines."""
    deadline = time.monotonic() + timeout_s
    health = f"{client.endpoint.root}/health"
    while True:
        try:
            if client.request("GET", health).status == 200:
                return
        except ServerError:
            pass  # not listening yet
        code = server.exited()
        if code is not None:
            tail = server.process.stderr_tail()
            raise ServerStartError(
                f"llama-server ({server.argv[0]}) on '{server.host.name}' exited with code "
                f"{code} before listening; its last output: {last_lines(tail)}",
                exit_code=code,
                stderr=tail,
            )
        if time.monotonic() > deadline:
            tail = server.process.stderr_tail()
            raise ServerStartError(
                f"llama-server ({server.argv[0]}) did not answer /health within "
                f"{timeout_s:.0f} s on '{server.host.name}'; its last output: "
                f"{last_lines(tail)}",
                exit_code=None,
                stderr=tail,
            )


def _drain(lines: Iterator[str], pid: int) -> None:
    """Read the server's stdout in the background (llama.cpp logs plain lines there), so a
    full pipe never stalls it; its diagnostics are on stderr, which the process keeps."""

    def drain() -> None:
        try:
            for _ in lines:
                pass
        except MeltError as exc:  # the device is gone: the run says so, not this thread
            log.info("llama-server stdout ended: %s", exc)

    threading.Thread(target=drain, name=f"llama-server-stdout-{pid}", daemon=True).start()


def spawn_guarded(host: ServerHost, argv: list[str], port: int) -> ServerProcess:
    """`argv` started on the device under the watchdog, with the server's own pid."""
    process = host.spawn(guarded(argv))
    lines = process.lines()
    pid = server_pid(lines)
    if pid is None:
        code = process.wait(timeout=STOP_WAIT_S)
        raise ServerStartError(
            f"llama-server's wrapper (sh) on '{host.name}' exited with code {code} before "
            f"starting {argv[0]}; its last output: {last_lines(process.stderr_tail())}",
            exit_code=code,
            stderr=process.stderr_tail(),
        )
    _drain(lines, pid)
    return ServerProcess(host, process, argv, port, pid)


def start_server(
    host: ServerHost,
    argv_for_port: Callable[[int], list[str]],
    timeout_s: float = READY_TIMEOUT_S,
) -> tuple[ServerProcess, HttpClient, int]:
    """Start the server on a free port (another one if that port was taken meanwhile),
    forwarded to the controller and answering `/health`; returns it, a client on the
    forwarded port and the start-to-ready time in ns (controller clock)."""
    for attempt in range(PORT_ATTEMPTS):
        port = host.free_port()
        argv = argv_for_port(port)
        start = time.monotonic_ns()
        server = spawn_guarded(host, argv, port)
        client: HttpClient | None = None
        try:
            local_port = host.forward(port)
            client = HttpClient(Endpoint.parse(f"http://127.0.0.1:{local_port}"))
            wait_ready(server, client, timeout_s)
            return server, client, time.monotonic_ns() - start
        except ServerStartError as exc:
            server.stop()
            if client is not None:
                client.close()
            if not exc.port_taken or attempt == PORT_ATTEMPTS - 1:
                raise
            log.info("port %d was taken on %s; trying another", port, host.name)
        except BaseException:
            server.stop()
            if client is not None:
                client.close()
            raise
    raise AssertionError("unreachable")
