"""The trace contract between frameworks and metrics, and importers of foreign traces."""

from melt.traces.sample import Provenance, Sample
from melt.traces.trace import (
    STOP_CONTEXT,
    STOP_EOG,
    STOP_LENGTH,
    EngineTimers,
    LoadTrace,
    TurnTrace,
)

__all__ = [
    "STOP_CONTEXT",
    "STOP_EOG",
    "STOP_LENGTH",
    "EngineTimers",
    "LoadTrace",
    "Provenance",
    "Sample",
    "TurnTrace",
]
