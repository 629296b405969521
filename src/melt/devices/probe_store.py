"""What `melt devices probe NAME` measured on a device, kept on the controller
(`$MELT_CACHE/devices/NAME.json`) and copied into the facts of every later run on it, so a
report can say what bound a run's decode rate."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def _path(device: str) -> Path:
    base = os.environ.get("MELT_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "melt")
    return Path(base) / "devices" / f"{device}.json"


def stored_probes(device: str) -> dict[str, Any]:
    path = _path(device)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def store_probe(device: str, key: str, value: dict[str, Any]) -> Path:
    path = _path(device)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = stored_probes(device)
    data[key] = value
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    tmp.replace(path)
    return path
