"""Building a runtime: CMake configure and build of llama.cpp for a target and a backend,
with progress, a clean stop on Ctrl-C/SIGTERM, and the result put into the cache whole or not
at all.

The build runs in a `Place` (`places.py`): this machine, or an SSH board (`--on`). What is
built where is the same; only where files live and how commands run differ.

llama.cpp's CMake compiles through ccache wherever ccache is installed (`GGML_CCACHE`, on by
default). Each build runs in a fresh folder, so melt makes ccache read paths relative to that
folder (`step_env`): a second runtime of the same sources (another backend, another
tool, the same sources on a board that shares a cache) reuses every object that compiled the
same, instead of missing on the folder's name.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from melt.errors import MeltError
from melt.runtimes.backends import Backend
from melt.runtimes.cache import MANIFEST, Runtime, cached, content_sha256, runtimes_dir
from melt.runtimes.patches import apply_patches
from melt.runtimes.places import Place, StepEnv
from melt.runtimes.sources import Source, copy_tree
from melt.runtimes.targets import Target

TOOLS = ("llama-server", "llama-bench", "llama-perplexity")
COMMON_FLAGS = (
    "-DCMAKE_BUILD_TYPE=Release",
    "-DLLAMA_BUILD_SERVER=ON",
    "-DLLAMA_BUILD_TOOLS=ON",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",  # the prebuilt web UI would be downloaded
    "-DLLAMA_BUILD_UI=OFF",
    "-DLLAMA_OPENSSL=OFF",
)
_NINJA = re.compile(r"^\[(\d+)/(\d+)\]")
_MAKE = re.compile(r"^\[\s*(\d+)%\]")
_ERROR = re.compile(r"(\berror\b:|\bError\b:|CMake Error|fatal error)")
_COMMIT = re.compile(r'LLAMA_COMMIT\s*=\s*"([^"]*)"')
_NUMBER = re.compile(r"LLAMA_BUILD_NUMBER\s*=\s*(\d+)")

Progress = Callable[[str], None]


class BuildFailed(MeltError):
    """The compiler or CMake failed (a fault of what melt drove, not of a flag)."""


@dataclass(frozen=True)
class BuildRequest:
    """Everything that decides what a build makes (its inputs)."""

    target: Target
    backend: Backend
    tools: tuple[str, ...]
    source: Source
    ndk: Path | None = None
    jobs: int = 2

    def cmake_flags(self, place: Place) -> list[str]:
        """The CMake command line's -D flags (compilers and the target's own included)."""
        flags = list(COMMON_FLAGS)
        if self.ndk is not None:
            flags += self.target.ndk_flags(self.ndk)
        else:
            flags += [f"-DCMAKE_C_COMPILER={self.target.cc}"]
            flags += [f"-DCMAKE_CXX_COMPILER={self.target.cxx}"]
            flags += self.target.cmake_flags
        flags += self.backend.cmake_flags
        if place.cflags(self.target):
            cflags = place.cflags(self.target)
            flags += [f"-DCMAKE_C_FLAGS={cflags}", f"-DCMAKE_CXX_FLAGS={cflags}"]
        return flags

    def linkage(self) -> str:
        if self.ndk is not None:
            return f"static, bionic (Android NDK at {self.ndk})"
        if self.target.static:
            return f"static, glibc ({self.target.package} cross toolchain)"
        return "shared libraries beside the binaries (RPATH $ORIGIN)"

    def key(self, place: Place, compiler: str) -> str:
        inputs = {
            "source": self.source.sha256,
            "target": self.target.name,
            "backend": self.backend.name,
            "tools": sorted(self.tools),
            "flags": self.cmake_flags(place),
            "compiler": compiler,
            "where": place.key,
        }
        blob = json.dumps(inputs, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]

    def runtime_id(self, place: Place, compiler: str) -> str:
        return f"{self.target.name}-{self.backend.name}-{self.key(place, compiler)}"


def check_tools(request: BuildRequest, place: Place) -> str:
    """Every program the build runs is there (else one line naming the package that has
    it); the C++ compiler's version line."""
    needed: list[tuple[str, str]] = [("cmake", "cmake")]
    if request.ndk is None:
        needed += [(request.target.cc, request.target.package or "gcc")]
        needed += [(request.target.cxx, request.target.package or "g++")]
    needed += [(tool.command, tool.package) for tool in request.backend.tools]
    for command, package in needed:
        if not place.which(command):
            raise MeltError(
                f"--target {request.target.name} --backend {request.backend.name}: "
                f"'{command}' is not installed {place.where} (install the Debian package "
                f"{package}: sudo apt-get install {package.split()[0]})"
            )
    if request.ndk is not None:
        return f"Android NDK {request.ndk.name} clang"
    return place.version_line(request.target.cxx)


def build(request: BuildRequest, place: Place, progress: Progress) -> Runtime:
    """The runtime for `request`, from the cache when its inputs were built before."""
    compiler = check_tools(request, place)
    runtime_id = request.runtime_id(place, compiler)
    found = cached(runtime_id)
    if found is not None and place.still_has(found):
        progress(f"{runtime_id}: already built")
        return found
    if found is not None:  # a board's copy is gone (its workdir cleared): build it again
        shutil.rmtree(found.path)
    runtimes_dir().mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".build-{runtime_id}-", dir=runtimes_dir()))
    staging = runtimes_dir() / f".{runtime_id}.{uuid.uuid4().hex}"
    started = time.monotonic()
    try:
        progress(f"{runtime_id}: copying the sources")
        copy_tree(request.source.path, work / "src")
        patches = apply_patches(work / "src", request.backend.name)
        tree = place.receive_sources(work / "src", runtime_id)
        progress(f"{runtime_id}: configuring (cmake)")
        build_dir = f"{tree}/build"
        configure = ["cmake", "-S", tree, "-B", build_dir, *place.generator()]
        log: list[str] = []
        _run(place, [*configure, *request.cmake_flags(place)], log, progress, runtime_id, tree)
        progress(f"{runtime_id}: building {', '.join(request.tools)}")
        step = ["cmake", "--build", build_dir, "--target", *request.tools, "-j", str(request.jobs)]
        _run(place, step, log, progress, runtime_id, tree)
        info = place.read_text(f"{build_dir}/common/build-info.cpp") or ""
        files = place.collect(build_dir, request.tools, runtime_id, staging)
        provenance = _provenance(request, place, runtime_id, compiler, patches, files, info)
        provenance["build_s"] = round(time.monotonic() - started, 1)
        staging.mkdir(parents=True, exist_ok=True)
        (staging / MANIFEST).write_text(json.dumps(provenance, indent=2) + "\n")
        _put_in_place(staging, runtime_id)
    except BaseException:
        place.stop()
        place.abandon(runtime_id)
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
        place.cleanup(runtime_id)
    done = cached(runtime_id)
    assert done is not None
    progress(f"{runtime_id}: built in {done.provenance['build_s']:.0f} s")
    return done


def _put_in_place(staging: Path, runtime_id: str) -> None:
    """Rename the finished runtime to its id; another build of the same inputs that got
    there first is as good (the same inputs), so this one's copy is dropped."""
    try:
        staging.rename(runtimes_dir() / runtime_id)
    except OSError:
        if cached(runtime_id) is None:
            raise
        shutil.rmtree(staging)


# Variables CMake and the compilers read from the environment: a build's flags are its
# target's and backend's, all in its key and provenance, never the shell's (an exported
# `CFLAGS=-mno-amx-tile` for the host's wheel would break a cross build, and would change
# any build without changing its key).
AMBIENT_FLAGS = ("CFLAGS", "CXXFLAGS", "CPPFLAGS", "LDFLAGS", "CMAKE_ARGS", "CC", "CXX")
LOCALE = ("LANG", "LC_ALL", "LC_CTYPE", "LC_MESSAGES")


def step_env(tree: str) -> StepEnv:
    """A build step's environment, the same on every place: the ambient compiler flags
    unset; messages in the C locale (melt quotes the compiler's first `error:` line, and
    ccache hashes the locale variables, which differ between a terminal and an SSH session);
    ccache reading the paths under `tree` relative to the build folder, leaving the folder's
    own name out of its hash."""
    return {
        **dict.fromkeys(AMBIENT_FLAGS),
        **dict.fromkeys(LOCALE, "C"),
        "CCACHE_BASEDIR": tree,
        "CCACHE_NOHASHDIR": "true",
    }


def _run(
    place: Place, argv: list[str], log: list[str], progress: Progress, rid: str, tree: str
) -> None:
    """Run one build step, reporting `[done/total]` as it goes; a failure is one line with
    the first error the compiler or CMake printed (its paths relative to the source)."""
    shown = -1
    start = len(log)
    for line in place.run(argv, log, step_env(tree)):
        match = _NINJA.match(line)
        percent = None
        if match:
            percent = int(match.group(1)) * 100 // max(int(match.group(2)), 1)
        elif m := _MAKE.match(line):
            percent = int(m.group(1))
        if percent is not None and percent != shown:
            shown = percent
            progress(f"{rid}: {percent}% {line[:100]}")
    code = place.returncode()
    if code != 0:
        step = log[start:]
        first = next((ln.strip() for ln in step if _ERROR.search(ln)), None)
        first = first or next((ln.strip() for ln in reversed(step) if ln.strip()), "no output")
        first = first.replace(f"{tree}/", "")
        saved = Path(tempfile.gettempdir()) / f"melt-runtime-{rid}.log"
        saved.write_text("\n".join(log) + "\n")
        raise BuildFailed(
            f"building runtime {rid} failed {place.where} (`{argv[0]} {argv[1]}` exited "
            f"{code}): {first} (the whole log: {saved})"
        )


def _known(value: str | None) -> str | None:
    return None if value in (None, "", "unknown") else value


def _provenance(
    request: BuildRequest,
    place: Place,
    runtime_id: str,
    compiler: str,
    patches: list[str],
    files: dict[str, dict[str, dict[str, Any]]],
    build_info: str,
) -> dict[str, Any]:
    commit = _COMMIT.search(build_info)
    number = _NUMBER.search(build_info)
    binaries, libraries = files["binaries"], files["libraries"]
    return {
        "id": runtime_id,
        "sha256": content_sha256({**binaries, **libraries}),
        "target": request.target.name,
        "backend": request.backend.name,
        "abis": list(request.target.abis),
        "linkage": request.linkage(),
        "static": request.ndk is not None or request.target.static,
        "march": request.target.march,
        "source": request.source.record(),
        "llama_cpp": {
            "commit": request.source.commit or _known(commit.group(1) if commit else None),
            "build_number": int(number.group(1)) if number else None,
        },
        "compiler": compiler,
        "cmake_flags": request.cmake_flags(place),
        "patches": patches,
        "binaries": binaries,
        "libraries": libraries,
        "built_on": place.name,
        "built_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        **place.kept_at(runtime_id),
    }
