"""The runner melt ships to a device: `python runner.pyz serve` (or `facts`).

It loads the engine with the same framework code melt runs locally (the per-token loop is
not a second copy), runs the probes' sampler on the device's own clock, and speaks JSON
lines: commands on stdin (`{"id": 1, "cmd": "load", ...}`), one reply per command
(`{"id": 1, "ok": true, ...}`), and events in between (`{"ev": "turn", ...}` while a
conversation plays, `{"ev": "samples", ...}` whenever the sampler flushes).

Standard library, llama_cpp and what llama-cpp-python itself depends on (numpy, jinja2): a
device has nothing of melt's, and nothing is pip-installed behind its owner's back. It stops
when the controller asks, when its stdin closes (the connection is gone) or on SIGINT /
SIGTERM, unloading the model on the way out.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import sys
import threading
import time
import traceback
from typing import Any

from melt.devices.facts import collect
from melt.devices.local import LocalDevice
from melt.runners import wire

PROTOCOL = 1


class _Stop(BaseException):
    """The controller is gone or asked the runner to stop."""


class _Abort(BaseException):
    """The controller asked to abandon the command in progress (its run is ending)."""


class Agent:
    def __init__(self, out: Any) -> None:
        self._out = out
        self._lock = threading.Lock()
        self.device = LocalDevice()
        self.engine: Any = None
        self.sampler: Any = None
        self.probes: dict[str, Any] = {}
        self.busy = False

    # --- output --------------------------------------------------------------------------

    def emit(self, message: dict[str, Any]) -> None:
        line = json.dumps(message, separators=(",", ":"), default=str)
        with self._lock:
            try:
                self._out.write(line + "\n")
                self._out.flush()
            except (BrokenPipeError, OSError, ValueError):
                os.kill(os.getpid(), signal.SIGTERM)

    # --- commands ------------------------------------------------------------------------

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        handler = getattr(self, f"cmd_{request.get('cmd')}", None)
        if handler is None:
            raise ValueError(f"unknown command {request.get('cmd')!r}")
        return handler(request) or {}

    def cmd_hello(self, _: dict[str, Any]) -> dict[str, Any]:
        from melt.devices.facts import llama_cpp_python_version
        from melt.devices.proc import clock_ticks_per_s

        return {
            "protocol": PROTOCOL,
            "pid": os.getpid(),
            "python": sys.version.split()[0],
            "llama_cpp_python": llama_cpp_python_version(),
            "clock_ticks_per_s": clock_ticks_per_s(),
        }

    def cmd_now(self, _: dict[str, Any]) -> dict[str, Any]:
        return {"t": time.monotonic_ns()}

    def cmd_facts(self, r: dict[str, Any]) -> dict[str, Any]:
        facts = collect(self.device, r["name"], r["transport"], r.get("workdir"), r["extra"])
        return {"facts": facts.as_dict()}

    def cmd_detect(self, r: dict[str, Any]) -> dict[str, Any]:
        """The registered probes that run on a device (`ProbePolicy.runs_on`), each
        configured probe with its configuration's fields as attributes."""
        from melt.probes import detect

        configured = {name: wire.Namespace(c) for name, c in r.get("configured", {}).items()}
        found = detect(self.device.path("/"), configured, runs_on=("device",))
        self.probes = {p.name: p for p in found.probes}
        return {
            "probes": [wire.info_to_wire(p.info()) for p in found.probes],
            "unavailable": found.unavailable,
        }

    def cmd_read_probe(self, r: dict[str, Any]) -> dict[str, Any]:
        probe = self.probes[r["name"]]
        return {"samples": wire.samples_to_wire(probe.read(time.monotonic_ns()))}

    def cmd_sampler_start(self, r: dict[str, Any]) -> dict[str, Any]:
        from melt.probes.sampler import Sampler

        def sink(batch: list[Any]) -> None:
            self.emit({"ev": "samples", "rows": wire.samples_to_wire(batch)})

        chosen = [self.probes[n] for n in r["probes"]]
        self.sampler = Sampler(chosen, rate_hz=r["rate_hz"], sink=sink)
        self.sampler.start()
        return {}

    def cmd_sampler_stop(self, _: dict[str, Any]) -> dict[str, Any]:
        stats = self.sampler.stop()
        self.sampler = None
        return {"stats": wire.stats_to_wire(stats)}

    def cmd_framework(self, r: dict[str, Any]) -> dict[str, Any]:
        from melt.frameworks.base import get_framework

        framework = get_framework(r["framework"])
        return {"version": framework.version(), "system_info": framework.system_info()}

    def cmd_compute_devices(self, r: dict[str, Any]) -> dict[str, Any]:
        from dataclasses import asdict

        from melt.frameworks.base import compute_devices, get_framework

        devices = compute_devices(get_framework(r["framework"]))
        return {"devices": [asdict(d) for d in devices]}

    def cmd_load(self, r: dict[str, Any]) -> dict[str, Any]:
        from melt.frameworks.base import get_framework

        self.cmd_unload({})
        framework = get_framework(r["framework"])
        artifact = wire.Namespace(r["artifact"])
        self.engine = framework.load(artifact, wire.Namespace(r["settings"]))
        return {"load": wire.load_to_wire(self.engine.load)}

    def cmd_prompt_tokens(self, r: dict[str, Any]) -> dict[str, Any]:
        return {"n": self.engine.chat_prompt_tokens(r["user_turns"])}

    def cmd_converse(self, r: dict[str, Any]) -> dict[str, Any]:
        from melt.workloads.conversation import Conversation

        conversation = Conversation(**r["conversation"])
        for trace in self.engine.converse(conversation, r["index"], warmup=r["warmup"]):
            self.emit({"ev": "turn", "id": r["id"], "trace": wire.trace_to_wire(trace)})
        return {}

    def cmd_unload(self, _: dict[str, Any]) -> dict[str, Any]:
        if self.engine is not None:
            self.engine.close()
            self.engine = None
        return {}

    def cmd_bandwidth(self, r: dict[str, Any]) -> dict[str, Any]:
        from melt.devices.bandwidth import measure_bandwidth

        return {"bandwidth": measure_bandwidth(budget_s=r.get("seconds", 2.0)).as_fact()}

    def cmd_exit(self, _: dict[str, Any]) -> dict[str, Any]:
        raise _Stop

    def close(self) -> None:
        if self.sampler is not None:
            with contextlib.suppress(Exception):  # abandoned with the run
                self.sampler.stop()
            self.sampler = None
        self.cmd_unload({})


def _reader(agent: Agent, inbox: queue.Queue[dict[str, Any] | None]) -> None:
    """Commands from stdin; on EOF (the controller or the connection is gone) interrupt the
    main thread if it is in the middle of a command (a turn, say)."""
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        if request.get("cmd") == "abort":
            os.kill(os.getpid(), signal.SIGUSR1)
            continue
        inbox.put(request)
    inbox.put(None)
    if agent.busy:
        os.kill(os.getpid(), signal.SIGTERM)


def _on_signal(signum: int, _frame: Any) -> None:
    raise _Stop


_BUSY: list[Agent] = []


def _on_abort(signum: int, _frame: Any) -> None:
    """Abandon the command in progress; between commands there is nothing to abandon."""
    if _BUSY and _BUSY[0].busy:
        raise _Abort


def serve() -> int:
    out = sys.stdout
    sys.stdout = sys.stderr  # nothing but protocol lines on the real stdout
    agent = Agent(out)
    _BUSY[:] = [agent]
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    signal.signal(signal.SIGUSR1, _on_abort)
    inbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
    reader = threading.Thread(target=_reader, args=(agent, inbox), name="melt-commands")
    reader.daemon = True
    try:
        reader.start()
        while True:
            try:
                request = inbox.get()
            except _Abort:
                continue
            if request is None:
                break
            try:
                agent.busy = True
                reply = agent.handle(request)
                agent.busy = False
                agent.emit({"id": request.get("id"), "ok": True, **reply})
            except _Abort:
                agent.emit(
                    {
                        "id": request.get("id"),
                        "ok": False,
                        "user_error": False,
                        "error": "aborted by the controller",
                    }
                )
            except _Stop:
                agent.emit({"id": request.get("id"), "ok": True})
                break
            except Exception as exc:
                from melt.errors import MeltError

                agent.busy = False
                agent.emit(
                    {
                        "id": request.get("id"),
                        "ok": False,
                        "user_error": isinstance(exc, MeltError),
                        "error": str(exc)
                        if isinstance(exc, MeltError)
                        else f"{type(exc).__name__}: {exc}",
                        "traceback": traceback.format_exc(limit=8),
                    }
                )
    except _Stop:
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        agent.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["serve"]:
        return serve()
    if args[:1] == ["facts"]:
        request = json.loads(args[1]) if len(args) > 1 else {}
        agent = Agent(sys.stdout)
        print(json.dumps(agent.cmd_facts(request)["facts"]))
        return 0
    print("usage: runner.pyz serve | facts JSON", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
