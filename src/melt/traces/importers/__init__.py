"""Importers of foreign traces: MELT's logs, profiles, power captures and folders.

Each format is one module that registers an `Importer` with `registry`; `detect` picks
one by looking at a file's content, never at its name alone.
"""

from melt.traces.importers.base import (
    ImportedRun,
    ImportedTurn,
    ImportResult,
    Interval,
    Malformed,
    PowerTrace,
)
from melt.traces.importers.registry import detect, get, names, read

__all__ = [
    "ImportResult",
    "ImportedRun",
    "ImportedTurn",
    "Interval",
    "Malformed",
    "PowerTrace",
    "detect",
    "get",
    "names",
    "read",
]
