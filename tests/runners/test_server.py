"""llama-server started by melt on the local device: the real binary on the bundled model,
its flags, its PID, its death mid-run, and binaries that never become a server."""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from melt.config import RunSettings, SamplingSettings
from melt.devices import LocalDevice
from melt.errors import MeltError
from melt.frameworks import FrameworkOptions, get_framework
from melt.frameworks.llama_server.engine import LlamaServerEngine
from melt.frameworks.llama_server.flags import server_argv
from melt.frameworks.llama_server.framework import LlamaServerSettings
from melt.frameworks.llama_server.process import ServerStartError, start_server
from melt.frameworks.openai.client import ServerError
from melt.models import Artifact
from melt.runners.server_host import DeviceServerHost, free_port, used_ports
from melt.workloads import Conversation

SETTINGS = RunSettings(
    threads=1,
    ctx=512,
    max_new_tokens=8,
    sampling=SamplingSettings(temperature=0.0),
    engine=LlamaServerSettings(flash_attn="off", cache_type_k="q8_0", poll=0),
)
CHAT = Conversation("c", ("Name a colour.", "Another one.", "And a third."))


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


@pytest.fixture
def device() -> Iterator[LocalDevice]:
    dev = LocalDevice()
    yield dev
    dev.close()


@pytest.fixture
def engine(
    device: LocalDevice, llama_server_binary: Path, bundled: Artifact
) -> Iterator[LlamaServerEngine]:
    framework = get_framework(
        "llama-server",
        FrameworkOptions(server_binary=str(llama_server_binary), device=DeviceServerHost(device)),
    )
    eng = framework.load(bundled, SETTINGS)
    yield eng
    eng.close()


def test_the_server_runs_the_workload_with_the_runs_settings(engine: LlamaServerEngine) -> None:
    assert _alive(engine.pid)
    cmdline = Path(f"/proc/{engine.pid}/cmdline").read_bytes().split(b"\0")
    flags = (
        ("--threads", "1"),
        ("--ctx-size", "512"),
        ("--parallel", "1"),
        ("--flash-attn", "off"),  # llama.cpp's knobs, from the run's engine settings
        ("--cache-type-k", "q8_0"),
        ("--cache-type-v", "f16"),
        ("--poll", "0"),
        ("--load-mode", "mmap"),
    )
    for flag, value in flags:
        assert cmdline[cmdline.index(flag.encode()) + 1] == value.encode()
        assert engine.load.engine_settings["server_flags"][flag] == value
    assert engine.load.context_tokens == SETTINGS.ctx
    assert engine.load.load_ns is not None and engine.load.load_ns > 0
    assert 80_000_000 < (engine.load.model_bytes or 0) < 120_000_000
    traces = list(engine.converse(CHAT, 0))
    assert [t.turn_index for t in traces] == [0, 1, 2]
    assert all(t.engine is not None and t.generated_tokens > 0 for t in traces)
    assert traces[1].prompt_tokens_reused >= traces[0].prompt_tokens


def test_closing_the_engine_stops_the_server_by_pid(engine: LlamaServerEngine) -> None:
    pid = engine.pid
    engine.close()
    assert not _alive(pid)
    engine.close()  # twice is harmless


def test_a_server_killed_mid_run_raises_and_keeps_earlier_turns(
    engine: LlamaServerEngine,
) -> None:
    turns = engine.converse(CHAT, 0)
    first = next(turns)
    os.kill(engine.pid, 9)
    with pytest.raises(ServerError, match="turn 1 of conversation 'c'"):
        next(turns)
    assert first.generated_tokens > 0 and first.engine is not None


def _script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "fake-llama-server"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_a_binary_that_exits_is_reported_with_its_stderr(
    device: LocalDevice, tmp_path: Path, bundled: Artifact
) -> None:
    binary = _script(tmp_path, 'echo "error: unknown argument: --fit" >&2; exit 1')
    framework = get_framework(
        "llama-server", FrameworkOptions(server_binary=str(binary), device=DeviceServerHost(device))
    )
    with pytest.raises(ServerStartError, match="exited with code 1 before listening") as err:
        framework.load(bundled, SETTINGS)
    assert "unknown argument: --fit" in str(err.value)


def test_a_binary_that_never_answers_times_out_and_is_stopped(
    device: LocalDevice, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    binary = _script(tmp_path, f'echo $$ > {pid_file}; echo "loading forever" >&2; exec sleep 600')
    with pytest.raises(ServerStartError, match=r"did not answer /health within 2 s") as err:
        start_server(
            DeviceServerHost(device), lambda port: [str(binary), "--port", str(port)], timeout_s=2
        )
    assert "loading forever" in str(err.value)
    assert not _alive(int(pid_file.read_text()))


def test_a_version_that_is_not_llama_servers_is_a_user_error(
    device: LocalDevice, tmp_path: Path
) -> None:
    binary = _script(tmp_path, "echo hello")
    framework = get_framework(
        "llama-server", FrameworkOptions(server_binary=str(binary), device=DeviceServerHost(device))
    )
    with pytest.raises(MeltError, match="is not a working llama-server"):
        framework.version()


def test_free_port_avoids_ports_in_use(device: LocalDevice) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert port in used_ports(device)
        assert free_port(device) not in used_ports(device)


def test_the_argv_carries_every_flag_once() -> None:
    argv = server_argv("/bin/llama-server", "/m.gguf", 4242, SETTINGS)
    flags = [a for a in argv if a.startswith("--")]
    assert len(flags) == len(set(flags))
    assert argv[argv.index("--port") + 1] == "4242"
    assert argv[argv.index("--model") + 1] == "/m.gguf"
