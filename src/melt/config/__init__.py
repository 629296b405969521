"""Schemas of what to measure; YAML loading with errors that name the field."""

from melt.config.settings import RunSettings, SamplingSettings, default_threads

__all__ = ["RunSettings", "SamplingSettings", "default_threads"]
