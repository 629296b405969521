"""Small source patches melt applies to the vendored llama.cpp before building it, each one
recorded in the runtime's provenance (by name) so a binary says exactly what it was built from.

A patch applies to a backend; it rewrites one file of the source tree (a build's own copy,
never the user's `--source` directory) and is skipped, unrecorded, when its anchor text is
not there (a llama.cpp that has the fix already, or never had the problem).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Patch:
    """`rewrite(text)` is the file's new text, or None when the patch does not apply."""

    name: str
    backend: str
    file: str
    why: str
    rewrite: Callable[[str], str | None]

    def apply(self, source: Path) -> bool:
        path = source / self.file
        if not path.is_file():
            return False
        new = self.rewrite(path.read_text())
        if new is None:
            return False
        path.write_text(new)
        return True


_LAYER_START = "    VkBool32 enable_best_practice = layer_settings;\n"
_LAYER_END = (
    "    vk::InstanceCreateInfo instance_create_info(vk::InstanceCreateFlags{}, &app_info, "
    "layers, extensions, &layer_setting_info);\n"
)
_GUARD = "#if defined(VK_EXT_layer_settings)"
_LAYER_FALLBACK = (
    "    vk::InstanceCreateInfo instance_create_info(vk::InstanceCreateFlags{}, &app_info, "
    "layers, extensions);\n"
)


def _guard_layer_settings(text: str) -> str | None:
    """Wrap the validation-layer settings block in `#if defined(VK_EXT_layer_settings)`,
    with a plain instance create info otherwise (None once guarded)."""
    if _GUARD in text or text.count(_LAYER_START) != 1 or text.count(_LAYER_END) != 1:
        return None
    i = text.index(_LAYER_START)
    j = text.index(_LAYER_END) + len(_LAYER_END)
    guarded = f"{_GUARD}\n{text[i:j]}#else\n{_LAYER_FALLBACK}#endif\n"
    return text[:i] + guarded + text[j:]


PATCHES: tuple[Patch, ...] = (
    Patch(
        name="vulkan-layer-settings-guard",
        backend="vulkan",
        file="ggml/src/ggml-vulkan/ggml-vulkan.cpp",
        why="Vulkan headers older than 1.3.275 (Debian 12's) have no VK_EXT_layer_settings, "
        "which ggml-vulkan uses unguarded",
        rewrite=_guard_layer_settings,
    ),
)


def apply_patches(source: Path, backend: str) -> list[str]:
    """Apply the backend's patches to the source tree at `source`; the names of those that
    applied."""
    return [p.name for p in PATCHES if p.backend == backend and p.apply(source)]
