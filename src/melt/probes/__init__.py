"""Samplers of one device signal each, and the Sampler that runs them at a rate."""

from melt.probes.base import Availability, Probe, ProbeInfo, ProbeReadError
from melt.probes.registry import Detected, detect, make_probe, probe_names, register_probe

__all__ = [
    "Availability",
    "Detected",
    "Probe",
    "ProbeInfo",
    "ProbeReadError",
    "detect",
    "make_probe",
    "probe_names",
    "register_probe",
]
