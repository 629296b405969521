"""Inference frameworks, one module each, registered by name (DESIGN.md: frameworks)."""

from melt.frameworks.base import (
    Engine,
    Framework,
    FrameworkDefaults,
    FrameworkOptions,
    get_framework,
    register_framework,
)

__all__ = [
    "Engine",
    "Framework",
    "FrameworkDefaults",
    "FrameworkOptions",
    "get_framework",
    "register_framework",
]
