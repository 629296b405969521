"""`melt runtimes build --on board`: the sources sent to the loopback SSH board, built there
with its own toolchain, the binaries kept in its workdir and the provenance here; a bench on
that board then uses that runtime by itself."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.runtimes.tiny_sources import (
    ccache_counts,
    compiled_through_ccache,
    good,
)

from melt.frameworks.llama_server.framework import ci_runtimes


def test_a_runtime_built_on_the_board_stays_there_with_its_provenance_here(
    melt: Callable[..., object],
    inventory: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MELT_RUNTIMES", str(tmp_path / "rt"))
    devices = str(inventory())
    argv = ["runtimes", "build", "--on", "board", "--devices", devices, "--tools", "llama-server"]
    result = melt(*argv, "--source", str(good(tmp_path / "src")), "--json")
    assert result.code == 0, result.err
    provenance = json.loads(result.out)
    assert provenance["device"] == "board" and provenance["built_on"] == "device 'board'"
    kept = Path(provenance["device_path"])
    assert kept == tmp_path / "device-workdir" / "runtimes" / provenance["id"]
    binary = (kept / "llama-server").read_bytes()  # the board's filesystem (loopback)
    assert hashlib.sha256(binary).hexdigest() == provenance["binaries"]["llama-server"]["sha256"]
    here = tmp_path / "rt" / provenance["id"]
    assert sorted(p.name for p in here.iterdir()) == ["runtime.json"]  # no binary here
    assert not list((tmp_path / "device-workdir" / "runtimes").glob(".build-*"))

    again = melt(*argv, "--source", str(tmp_path / "src"))
    assert again.code == 0 and again.out.split()[0] == provenance["id"]
    os.remove(kept / "llama-server")  # the board's workdir cleared: built there again
    rebuilt = melt(*argv, "--source", str(tmp_path / "src"))
    assert rebuilt.code == 0 and (kept / "llama-server").is_file()


def test_a_bench_on_the_board_runs_the_runtime_kept_there_without_pushing_it(
    melt: Callable[..., object],
    inventory: Callable[..., Path],
    tmp_path: Path,
    workload_file: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The tiny runtime is no llama-server (it exits 3): the one-line refusal names the
    binary melt chose, the board's own copy in its workdir, and nothing was pushed."""
    monkeypatch.setenv("MELT_RUNTIMES", str(tmp_path / "rt"))
    monkeypatch.delenv("MELT_LLAMA_SERVER", raising=False)
    devices = str(inventory())
    source = good(tmp_path / "src", "return 3;")
    built = melt(
        "runtimes", "build", "--on", "board", "--devices", devices, "--tools", "llama-server",
        "--source", str(source), "--json",
    )  # fmt: skip
    assert built.code == 0, built.err
    kept = json.loads(built.out)["device_path"]
    result = melt(
        "bench", "--device", "board", "--devices", devices, "--framework", "llama-server",
        "--workload", str(workload_file([["Hi."]])), "--store", str(tmp_path / "melt.db"),
    )  # fmt: skip
    assert result.code == 2, result.err
    assert f"--server-binary {kept}/llama-server is not a working llama-server on 'board'" in (
        result.err
    )
    assert "`--version` exited with code 3" in result.err
    assert not (tmp_path / "device-workdir" / "bin").exists()  # nothing pushed


def test_the_boards_build_reuses_the_objects_a_build_here_compiled(
    melt: Callable[..., object],
    inventory: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The loopback board shares this machine's ccache folder (as CI's board build shares the
    x86-64 runtime's): melt gives every build step the same locale and relative paths, so
    the board compiles nothing a build here compiled, though its SSH session has another
    locale (none) than this terminal's and its build folder another name."""
    monkeypatch.setenv("MELT_RUNTIMES", str(tmp_path / "rt"))
    monkeypatch.setenv("LANG", "C.UTF-8")
    cache = tmp_path / "ccache"
    argv = ["runtimes", "build", "--tools", "llama-server", "--source"]
    here = melt(*argv, str(compiled_through_ccache(tmp_path / "a", cache)))
    assert here.code == 0, here.err
    assert ccache_counts(cache) == (1, 0)
    source = compiled_through_ccache(tmp_path / "b", cache, note="for the board")
    there = melt(*argv, str(source), "--on", "board", "--devices", str(inventory()))
    assert there.code == 0, there.err
    assert ccache_counts(cache) == (1, 1)


def test_on_a_device_that_is_not_an_ssh_board_is_one_line(
    melt: Callable[..., object], inventory: Callable[..., Path], tmp_path: Path
) -> None:
    result = melt("runtimes", "build", "--on", "local", "--devices", str(inventory()))
    assert result.code == 2
    assert (
        result.err.strip() == "melt: error: --on local: builds run on SSH devices; 'local' is local"
    )


@pytest.mark.slow
def test_a_bench_on_the_board_uses_the_runtime_built_there(
    melt: Callable[..., object],
    inventory: Callable[..., Path],
    tmp_path: Path,
    workload_file: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The real llama.cpp built on the board (cpu, llama-server only); its workdir and the
    provenance live in CI's cache, so a warm cache builds nothing."""
    monkeypatch.setenv("MELT_RUNTIMES", str(ci_runtimes()))
    monkeypatch.delenv("MELT_LLAMA_SERVER", raising=False)
    devices = str(inventory(workdir=str(ci_runtimes().parent / "board-workdir")))
    built = melt(
        "runtimes", "build", "--on", "board", "--devices", devices,
        "--tools", "llama-server", "--json",
    )  # fmt: skip
    assert built.code == 0, built.err
    provenance = json.loads(built.out)
    assert provenance["source"]["kind"] == "sdist" and provenance["llama_cpp"]["commit"]
    db = tmp_path / "melt.db"
    result = melt(
        "bench", "--device", "board", "--devices", devices, "--framework", "llama-server",
        "--workload", str(workload_file([["Name a colour."]])), "--store", str(db),
        "--max-new-tokens", "8", "--threads", "1", "--warmup", "0",
    )  # fmt: skip
    assert result.code == 0, result.err
    with sqlite3.connect(db) as conn:
        runtime_json, settings_json = conn.execute("select runtime, settings from runs").fetchone()
    runtime = json.loads(runtime_json)
    assert runtime["id"] == provenance["id"] and runtime["device"] == "board"
    assert runtime["binary_sha256"] == provenance["binaries"]["llama-server"]["sha256"]
    argv = json.loads(settings_json)["engine_settings"]["server_argv"]
    assert argv[0] == f"{provenance['device_path']}/llama-server"  # run where it was built
