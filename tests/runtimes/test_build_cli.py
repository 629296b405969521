"""`melt runtimes build | list | show` on tiny `--source` projects: bad input in one line,
a failing compiler's first error, the cache keyed by the build's inputs, and Ctrl-C/SIGTERM
stopping the build with nothing left behind."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from tests.runtimes.tiny_sources import (
    broken,
    ccache_counts,
    compiled_through_ccache,
    good,
    sleeping_steps,
    slow,
)
from tests.waiting import wait_until

SRC = Path(__file__).resolve().parents[2] / "src"
TIMEOUT_S = 300.0


def melt_env(runtimes: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": f"{SRC}:{os.environ.get('PYTHONPATH', '')}"}
    return {**env, "MELT_RUNTIMES": str(runtimes), **extra}


def melt(runtimes: Path, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "melt", *argv],
        env=melt_env(runtimes, **env),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )


def errors(err: str) -> list[str]:
    assert "Traceback" not in err, err
    return [line for line in err.splitlines() if line.startswith("melt: error:")]


def leftovers(runtimes: Path) -> list[str]:
    return sorted(p.name for p in runtimes.iterdir()) if runtimes.exists() else []


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--target", "windows-x86"], "unknown --target 'windows-x86' (choose one of: "),
        (["--backend", "metal"], "unknown --backend 'metal' (choose one of: cpu, vulkan, cuda)"),
        (["--tools", "llama-cli"], "--tools llama-cli: choose among llama-server, llama-bench"),
        (
            ["--target", "android-arm64", "--backend", "vulkan"],
            "--backend vulkan is not built for --target android-arm64 here",
        ),
        (["--backend", "cuda"], "melt runtimes build --on DEVICE --backend cuda"),
        (["--ndk", "/opt/ndk"], "--ndk is for android targets, not --target linux-x86_64"),
        (
            ["--target", "android-arm64", "--ndk", "/opt/ndk"],
            "--ndk /opt/ndk: no build/cmake/android.toolchain.cmake there",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, argv: list[str], said: str) -> None:
    done = melt(tmp_path / "rt", "runtimes", "build", "--source", str(good(tmp_path / "s")), *argv)
    assert done.returncode == 2, done.stderr
    (line,) = errors(done.stderr)
    assert said in line
    assert leftovers(tmp_path / "rt") == []


def test_a_missing_cross_compiler_names_the_debian_package(tmp_path: Path) -> None:
    """PATH has CMake and Ninja but not the aarch64 cross compiler."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("cmake", "ninja"):
        found = subprocess.run(["which", tool], capture_output=True, text=True).stdout.strip()
        (bin_dir / tool).symlink_to(found)
    source = good(tmp_path / "s")
    done = melt(
        tmp_path / "rt",
        "runtimes", "build", "--target", "android-arm64", "--source", str(source),
        PATH=str(bin_dir),
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    (line,) = errors(done.stderr)
    assert "'aarch64-linux-gnu-gcc' is not installed on this machine" in line
    assert "sudo apt-get install g++-aarch64-linux-gnu" in line
    assert leftovers(tmp_path / "rt") == []


def test_a_build_that_fails_says_the_compilers_first_error_and_leaves_nothing(
    tmp_path: Path,
) -> None:
    source = str(broken(tmp_path / "s"))
    done = melt(tmp_path / "rt", "runtimes", "build", "--source", source, "--tools", "llama-server")
    assert done.returncode == 1, done.stderr
    (line,) = errors(done.stderr)
    assert ": main.c:1:" in line and "error: " in line and "nosuch" in line  # gcc's own words
    assert "`cmake --build` exited 1" in line
    log = Path(line.rsplit("(the whole log: ", 1)[1].rstrip(")"))
    assert "nosuch" in log.read_text()
    assert leftovers(tmp_path / "rt") == []  # no runtime, no build tree


def test_a_build_is_cached_by_its_inputs_with_its_provenance(tmp_path: Path) -> None:
    runtimes = tmp_path / "rt"
    source = good(tmp_path / "s")
    first = melt(runtimes, "runtimes", "build", "--source", str(source), "--tools", "llama-server")
    assert first.returncode == 0, first.stderr
    runtime_id, directory = first.stdout.split()
    assert runtime_id.startswith("linux-x86_64-cpu-")
    assert "building llama-server" in first.stderr and "100% [" in first.stderr
    shown = melt(runtimes, "runtimes", "show", runtime_id[:20])
    provenance = json.loads(shown.stdout)
    binary = Path(directory) / "llama-server"
    sha = hashlib.sha256(binary.read_bytes()).hexdigest()
    assert provenance["binaries"]["llama-server"] == {
        "sha256": sha,
        "size_bytes": binary.stat().st_size,
    }
    assert provenance["target"] == "linux-x86_64" and provenance["backend"] == "cpu"
    assert provenance["source"]["kind"] == "directory"
    assert "-DCMAKE_INSTALL_RPATH=$ORIGIN" in provenance["cmake_flags"]
    assert provenance["compiler"].startswith("c++ ")
    assert provenance["linkage"].startswith("shared libraries beside the binaries")
    assert provenance["build_s"] >= 0 and provenance["patches"] == []

    again = melt(runtimes, "runtimes", "build", "--source", str(source), "--tools", "llama-server")
    assert again.stdout.split()[0] == runtime_id
    assert "already built" in again.stderr and "building" not in again.stderr

    (source / "main.c").write_text("int main(void) { return 1; }\n")  # another source
    changed = melt(
        runtimes, "runtimes", "build", "--source", str(source), "--tools", "llama-server"
    )
    assert changed.returncode == 0 and changed.stdout.split()[0] != runtime_id
    listed = melt(runtimes, "runtimes", "list", "--json")
    assert sorted(r["id"] for r in json.loads(listed.stdout)) == sorted(
        [runtime_id, changed.stdout.split()[0]]
    )


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_during_a_build_stops_it_and_leaves_no_partial_runtime(
    tmp_path: Path, signum: int, code: int
) -> None:
    runtimes = tmp_path / "rt"
    argv = ["runtimes", "build", "--source", str(slow(tmp_path / "s")), "--tools", "llama-server"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "melt", *argv],
        env=melt_env(runtimes),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    assert proc.stderr is not None
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr or []), daemon=True)
    reader.start()
    try:
        assert wait_until(lambda: sleeping_steps() or proc.poll() is not None, TIMEOUT_S)
        assert proc.poll() is None, "".join(lines)
        assert any(".build-" in name for name in leftovers(runtimes))  # a build under way
        proc.send_signal(signum)
        assert proc.wait(TIMEOUT_S) == code
    finally:
        if proc.poll() is None:
            proc.kill()
    reader.join(TIMEOUT_S)
    assert "Traceback" not in "".join(lines)
    assert lines[-1].startswith("melt: interrupted" if code == 130 else "melt: terminated")
    assert sleeping_steps() == []  # the build's own processes are gone too
    assert leftovers(runtimes) == []


def test_show_of_an_unknown_runtime_is_one_line(tmp_path: Path) -> None:
    done = melt(tmp_path / "rt", "runtimes", "show", "android")
    assert done.returncode == 2, done.stderr
    (line,) = errors(done.stderr)
    assert line == (
        f"melt: error: no runtime 'android' in {tmp_path / 'rt'} (known: none built yet; "
        "see 'melt runtimes list')"
    )


def test_the_shells_compiler_flags_do_not_reach_a_build(tmp_path: Path) -> None:
    """CI exports `CFLAGS=-mno-amx-*` for the host's llama-cpp-python wheel; the aarch64 cross
    compiler rejects them. A runtime's flags are its target's (in its key): the shell's are
    left out, so the cross build works and its key means what it says."""
    runtimes = tmp_path / "rt"
    source = good(tmp_path / "s")
    argv = ["runtimes", "build", "--target", "android-arm64", "--source", str(source)]
    argv += ["--tools", "llama-server"]
    flags = "-mno-amx-tile -mno-amx-int8"
    built = melt(runtimes, *argv, CFLAGS=flags, CXXFLAGS=flags)
    assert built.returncode == 0, built.stderr
    again = melt(runtimes, *argv)  # the same inputs without the shell's flags: the same one
    assert again.stdout.split()[0] == built.stdout.split()[0]
    assert "already built" in again.stderr


def test_a_second_runtime_of_the_same_sources_reuses_the_compilers_cache(tmp_path: Path) -> None:
    """Each build runs in a fresh folder; melt has ccache hash paths relative to it, so a
    second runtime (here: other sources whose compiled files are the same) reuses the objects
    the first compiled. (The same on a board: tests/devices/test_runtime_on_board.py.)"""
    cache = tmp_path / "ccache"
    runtimes = tmp_path / "rt"
    argv = ["runtimes", "build", "--tools", "llama-server", "--source"]
    first = melt(runtimes, *argv, str(compiled_through_ccache(tmp_path / "a", cache)))
    assert first.returncode == 0, first.stderr
    assert ccache_counts(cache) == (1, 0)
    source = compiled_through_ccache(tmp_path / "b", cache, note="another file")
    second = melt(runtimes, *argv, str(source))
    assert second.returncode == 0 and second.stdout.split()[0] != first.stdout.split()[0]
    assert ccache_counts(cache) == (1, 1)
