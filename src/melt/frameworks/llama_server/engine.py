"""The openai-http engine over a llama-server melt started, with the server's CPU time.

What is measured where: token arrival times are read on the controller (see
`frameworks.openai.stream`); the server's own `timings` are on the device's clock; the
server's memory and CPU time are in the device's `/proc/<pid>` (the engine exposes `pid`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from melt.compute import ComputeAsk, refuse_fallback, refuse_no_accelerator
from melt.config import RunSettings
from melt.errors import MeltError
from melt.frameworks.history import Message
from melt.frameworks.llama_server.devices import list_devices, load_report
from melt.frameworks.llama_server.flags import server_argv, server_flags
from melt.frameworks.llama_server.host import ServerHost
from melt.frameworks.llama_server.process import ServerProcess, start_server
from melt.frameworks.openai.client import HttpClient
from melt.frameworks.openai.dialect import ServerInfo, choose_model, identify
from melt.frameworks.openai.engine import OpenAIHttpEngine, server_system_info
from melt.traces import LoadTrace, TurnTrace

log = logging.getLogger(__name__)


class LlamaServerEngine(OpenAIHttpEngine):
    """The openai-http engine over a llama-server melt started; `pid` is the server's on the
    device (for its `/proc/<pid>`), and closing the engine stops the server. Each turn's CPU
    time is the server's utime + stime from its `/proc/<pid>/stat` on the device, read before
    the turn's requests (its template and tokenize calls included) and after the stream ends
    (None when either read fails)."""

    ctx_flag = "--ctx"

    def __init__(
        self,
        server: ServerProcess,
        client: HttpClient,
        info: ServerInfo,
        model: str,
        settings: RunSettings,
        load: LoadTrace,
        ticks_per_s: int,
    ) -> None:
        super().__init__(client, info, model, settings, load=load, on_close=server.stop)
        self.server = server
        self.pid = server.pid
        self.ticks_per_s = ticks_per_s

    def _turn(
        self,
        history: list[Message],
        user_text: str,
        conversation_index: int,
        turn_index: int,
        warmup: bool,
    ) -> TurnTrace:
        before = self.server.host.cpu_ticks(self.pid)
        trace = super()._turn(history, user_text, conversation_index, turn_index, warmup)
        after = self.server.host.cpu_ticks(self.pid)
        if before is None or after is None:
            return trace
        return replace(trace, cpu_time_ns=(after - before) * 1_000_000_000 // self.ticks_per_s)


def launch(
    host: ServerHost, binary: str, model_path: str, settings: RunSettings, model_bytes: int
) -> LlamaServerEngine:
    """A llama-server for this run on the device, ready, with its engine. Offload asked of
    a build without a device is refused before the server starts; one the server did not
    do (its load report says so) before anything is measured."""
    ask = ComputeAsk.of(settings.engine)
    available = list_devices(host, binary)
    refuse_no_accelerator(ask, available)
    logs = f"{host.workdir()}/llama-server"

    def argv(port: int) -> list[str]:
        return server_argv(binary, model_path, port, settings, f"{logs}-{port}.log")

    server, client, ready_ns = start_server(host, argv)
    try:
        compute = load_report(host, f"{logs}-{server.port}.log", available)
        try:
            refuse_fallback(ask, compute)
        except MeltError as exc:
            raise MeltError(f"llama-server: {exc}") from None
        ticks_per_s, ticks_source = host.clock_ticks_per_s()
        info = identify(client)
        model = choose_model(info, None, client.endpoint.url)
        meta = info.model_meta(model)
        load = LoadTrace(
            load_ns=ready_ns,
            model_bytes=meta.get("size", model_bytes),
            model_params=meta.get("n_params"),
            rss_before_bytes=None,
            rss_after_bytes=None,
            context_tokens=info.n_ctx,
            system_info=server_system_info(info),
            engine_settings={
                **_recorded_settings(server.argv, settings),
                "cpu_time_source": f"utime+stime of the server's /proc/{server.pid}/stat on "
                f"the device before and after each turn, in 1/{ticks_per_s} s ticks "
                f"({ticks_source})",
            },
            compute=compute,
        )
        return LlamaServerEngine(server, client, info, model, settings, load, ticks_per_s)
    except BaseException:
        server.stop()
        client.close()
        raise


def _recorded_settings(argv: Sequence[str], settings: RunSettings) -> dict[str, Any]:
    return {
        "server_flags": server_flags(settings),
        "server_argv": list(argv),
        "load_time_source": "spawn to first 200 from /health, controller clock",
        "watchdog": "sh wrapper on the device stops the server when melt's connection closes",
    }
