"""Tiny CMake projects standing in for llama.cpp's sources (`--source DIR`): they exercise
melt's builder (CMake, Ninja, the compiler, the cache) in a second instead of ten minutes."""

from __future__ import annotations

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
