"""The compute backends a runtime's ggml is built with: their CMake flags, the tools the
build needs, and which targets they can be cross-built for here.

Every backend keeps ggml's CPU backend too (`vulkan` is CPU + Vulkan). `cuda` needs nvcc,
which only a device's own toolkit has (a Jetson's JetPack): build it there with `--on`.
"""

from __future__ import annotations

from dataclasses import dataclass

from melt.errors import MeltError


@dataclass(frozen=True)
class Tool:
    """A program the build runs, and the Debian package that has it."""

    command: str
    package: str


@dataclass(frozen=True)
class Backend:
    name: str
    cmake_flags: tuple[str, ...]
    tools: tuple[Tool, ...] = ()
    targets: tuple[str, ...] | None = None  # the targets it builds for here (None: all)
    on_device_only: bool = False  # its toolkit is on the device, never cross-built here


BACKENDS: dict[str, Backend] = {
    b.name: b
    for b in (
        Backend("cpu", ()),
        Backend(
            "vulkan",
            ("-DGGML_VULKAN=ON",),
            tools=(Tool("glslc", "glslc"),),
            targets=("linux-x86_64",),
        ),
        Backend(
            "cuda",
            ("-DGGML_CUDA=ON",),
            tools=(Tool("nvcc", "nvidia-cuda-toolkit (or JetPack on a Jetson)"),),
            on_device_only=True,
        ),
    )
}


def backend(name: str) -> Backend:
    try:
        return BACKENDS[name]
    except KeyError:
        raise MeltError(
            f"unknown --backend '{name}' (choose one of: {', '.join(BACKENDS)})"
        ) from None
