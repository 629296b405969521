"""melt: measure how well a large language model runs on a device."""

__version__ = "0.1.0"
