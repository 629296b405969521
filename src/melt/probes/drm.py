"""The DRM cards of a PC's GPUs (/sys/class/drm/cardN, Documentation/gpu/drm-uapi.rst): a
card's `device` is its PCI device, whose `vendor` says whose GPU it is. The laptop GPU
probes (intel_gpu, amdgpu) find their cards here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from melt.devices.fspath import SysPath
from melt.probes.sources import fact

_CARD = re.compile(r"card\d+$")
DRM_TREE = ("sys/class/drm", 3)


def drm_class(root: SysPath) -> SysPath:
    return root / "sys" / "class" / "drm"


def cards(root: SysPath, vendor: str) -> Iterator[SysPath]:
    """The cards (not their connectors, `card0-eDP-1`) of one PCI vendor (`0x8086`)."""
    base = drm_class(root)
    if not base.is_dir():
        return
    for card in sorted(
        base.iterdir(), key=lambda p: int(p.name[4:]) if _CARD.match(p.name) else -1
    ):
        if _CARD.match(card.name) and fact(card / "device" / "vendor") == vendor:
            yield card
