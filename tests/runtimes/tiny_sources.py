"""Tiny CMake projects standing in for llama.cpp's sources (`--source DIR`): they exercise
melt's builder (CMake, Ninja, the compiler, the cache) in a second instead of ten minutes."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

PROJECT = "cmake_minimum_required(VERSION 3.16)\nproject(tiny C)\n"
SLEEP_S = "3517"  # a duration no other process here sleeps: how the test finds the step


def good(root: Path, body: str = "return 0;") -> Path:
    """A project whose `llama-server` builds."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "CMakeLists.txt").write_text(PROJECT + "add_executable(llama-server main.c)\n")
    (root / "main.c").write_text(f"int main(void) {{ {body} }}\n")
    return root


def broken(root: Path) -> Path:
    """A project whose source does not compile."""
    good(root, "return nosuch;")
    return root


def slow(root: Path) -> Path:
    """A project whose build runs a step of an hour before compiling anything."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "CMakeLists.txt").write_text(
        PROJECT
        + "add_custom_command(OUTPUT main.c\n"
        + f"  COMMAND ${{CMAKE_COMMAND}} -E sleep {SLEEP_S}\n"
        + "  COMMAND ${CMAKE_COMMAND} -E touch main.c)\n"
        + "add_executable(llama-server ${CMAKE_CURRENT_BINARY_DIR}/main.c)\n"
    )
    return root


def sleeping_steps() -> list[int]:
    """Pids of the slow project's sleeping build step still alive on this machine."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"sleep" in argv and SLEEP_S.encode() in argv:
            found.append(int(proc.name))
    return found


def compiled_through_ccache(root: Path, cache: Path, note: str = "") -> Path:
    """A project that compiles through ccache as llama.cpp's does (`GGML_CCACHE`: the global
    `RULE_LAUNCH_COMPILE`), into the ccache folder `cache`, with an include folder given by
    its absolute path as CMake gives ggml's; `note` changes a file that is not compiled, so
    the sources, and the runtime's key, differ while every object compiles the same."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "include").mkdir(exist_ok=True)
    (root / "include" / "tiny.h").write_text("#define TINY_CODE 0\n")
    (root / "main.c").write_text('#include "tiny.h"\nint main(void) { return TINY_CODE; }\n')
    (root / "NOTE").write_text(note)
    launcher = f'"${{CMAKE_COMMAND}} -E env CCACHE_DIR={cache} ccache"'
    (root / "CMakeLists.txt").write_text(
        PROJECT
        + f"set_property(GLOBAL PROPERTY RULE_LAUNCH_COMPILE {launcher})\n"
        + "add_executable(llama-server main.c)\n"
        + "target_include_directories(llama-server PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/include)\n"
    )
    return root


def ccache_stats(cache: Path) -> dict[str, int]:
    """ccache's counters for the folder `cache`."""
    done = subprocess.run(
        ["ccache", "--print-stats"], env={**os.environ, "CCACHE_DIR": str(cache)},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return {k: int(v) for k, v in (ln.split("\t") for ln in done.stdout.splitlines())}


def ccache_counts(cache: Path) -> tuple[int, int]:
    """(objects compiled, objects taken from the cache) in the ccache folder `cache`."""
    stats = ccache_stats(cache)
    hits = stats.get("direct_cache_hit", 0) + stats.get("preprocessed_cache_hit", 0)
    return stats.get("cache_miss", 0), hits
