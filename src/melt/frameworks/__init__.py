"""Inference frameworks, one package each, registered by name in `registry.PACKAGES`."""

from melt.frameworks.base import (
    Engine,
    Framework,
    FrameworkDefaults,
    FrameworkOptions,
    get_framework,
)

__all__ = [
    "Engine",
    "Framework",
    "FrameworkDefaults",
    "FrameworkOptions",
    "get_framework",
]
