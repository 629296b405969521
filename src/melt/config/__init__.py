"""Schemas of what to measure; YAML loading with errors that name the field."""

from melt.config.experiment import Cell, Experiment, expand, experiment_from
from melt.config.settings import RunSettings, SamplingSettings, default_threads

__all__ = [
    "Cell",
    "Experiment",
    "RunSettings",
    "SamplingSettings",
    "default_threads",
    "expand",
    "experiment_from",
]
