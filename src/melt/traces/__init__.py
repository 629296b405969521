"""The trace contract between frameworks and metrics, and importers of foreign traces."""

from melt.traces.sample import Provenance, Sample
from melt.traces.trace import EngineTimers, LoadTrace, TurnTrace

__all__ = ["EngineTimers", "LoadTrace", "Provenance", "Sample", "TurnTrace"]
