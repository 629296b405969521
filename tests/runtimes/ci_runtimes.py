"""The real llama.cpp runtimes tests run, built by melt's own builder once into CI's cache
(`$MELT_CI_CACHE/runtimes`, as `.ci/build-llama-cpp-tools` does): keyed by every input of the
build, so a warm cache finds them and a session builds each at most once. Their compilers
share one ccache folder in CI's cache (`ci_ccache`), which the loopback SSH board's builds use
too (it is this machine): the board's llama.cpp compiles from the objects the x86-64 runtime
compiled."""

from __future__ import annotations

from pathlib import Path

import pytest

from melt.frameworks.llama_server.framework import ci_runtimes
from melt.runtimes.backends import backend
from melt.runtimes.build import BuildRequest, build
from melt.runtimes.cache import Runtime
from melt.runtimes.places import LocalPlace
from melt.runtimes.sources import pinned_source
from melt.runtimes.targets import target


def ci_ccache() -> Path:
    """The ccache folder CI's llama.cpp builds share (`.ci/build-llama-cpp-tools` sets it)."""
    return ci_runtimes().parent / "ccache"


def ci_runtime(target_name: str, backend_name: str, tools: tuple[str, ...]) -> Runtime:
    """The runtime from the pinned llama.cpp, built here when CI's cache lacks it."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MELT_RUNTIMES", str(ci_runtimes()))
        env.setenv("CCACHE_DIR", str(ci_ccache()))
        source = pinned_source(ci_runtimes() / "sources")
        request = BuildRequest(target(target_name), backend(backend_name), tools, source)
        return build(request, LocalPlace(), lambda _: None)
