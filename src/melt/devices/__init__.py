"""Devices a model runs on, one module per transport (DESIGN.md: devices)."""

from melt.devices.local import LocalDevice

__all__ = ["LocalDevice"]
