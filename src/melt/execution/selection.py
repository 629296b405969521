"""Which devices `--device` names: `a,b,c`, `all` (every inventory device), `tag:NAME`
(every device carrying that inventory tag), or a comma-separated mix of them."""

from __future__ import annotations

from melt.devices.inventory import Inventory, entries, find_entry
from melt.errors import MeltError

ALL = "all"
TAG_PREFIX = "tag:"


def is_fleet(spec: str) -> bool:
    """More than one device, or a group: the bench runs as a fleet."""
    return "," in spec or spec == ALL or spec.startswith(TAG_PREFIX)


def select_devices(spec: str, inventory: Inventory) -> list[str]:
    """The device names `spec` selects, in the order given (inventory order within a group),
    each once."""
    chosen: list[str] = []
    parts = [p.strip() for p in spec.split(",") if p.strip()]
    if not parts:
        raise MeltError("--device: name at least one device, 'all', or 'tag:NAME'")
    for part in parts:
        for name in _expand(part, inventory):
            if name not in chosen:
                chosen.append(name)
    return chosen


def _expand(part: str, inventory: Inventory) -> list[str]:
    if part == ALL:
        return [e.name for e in entries(inventory)]
    if part.startswith(TAG_PREFIX):
        tag = part.removeprefix(TAG_PREFIX)
        tagged = [e.name for e in entries(inventory) if tag in e.tags]
        if not tagged:
            known = sorted({t for e in entries(inventory) for t in e.tags})
            listed = ", ".join(known) if known else "none"
            raise MeltError(
                f"--device {part}: no device in the inventory has tag '{tag}' "
                f"(tags: {listed}); add it under the device's 'tags:'"
            )
        return tagged
    return [find_entry(inventory, part).name]
