"""The real llama.cpp runtimes tests run, built by melt's own builder once into CI's cache
(`$MELT_CI_CACHE/runtimes`, as `.ci/build-llama-cpp-tools` does): keyed by every input of the
build, so a warm cache finds them and a session builds each at most once."""

from __future__ import annotations

import pytest

from melt.frameworks.llama_server.framework import ci_runtimes
from melt.runtimes.backends import backend
from melt.runtimes.build import BuildRequest, build
from melt.runtimes.cache import Runtime
from melt.runtimes.places import LocalPlace
from melt.runtimes.sources import pinned_source
from melt.runtimes.targets import target


def ci_runtime(target_name: str, backend_name: str, tools: tuple[str, ...]) -> Runtime:
    """The runtime from the pinned llama.cpp, built here when CI's cache lacks it."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MELT_RUNTIMES", str(ci_runtimes()))
        source = pinned_source(ci_runtimes() / "sources")
        request = BuildRequest(target(target_name), backend(backend_name), tools, source)
        return build(request, LocalPlace(), lambda _: None)
