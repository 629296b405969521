"""The conversation set that ships with melt (our own text, see data/chat.json)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

BUILTIN_WORKLOAD = "builtin:chat"


def builtin_workload_path() -> Path:
    return Path(str(resources.files("melt.workloads") / "data" / "chat.json"))
