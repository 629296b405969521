"""Compact storage of per-token timestamps: little-endian int64 deltas in one blob."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

ENCODING = "int64-le-delta"


def encode(token_ns: Sequence[int]) -> bytes:
    """First value absolute, then differences; lossless for monotonic ns clocks."""
    values = np.asarray(token_ns, dtype=np.int64)
    return np.diff(values, prepend=np.int64(0)).astype("<i8").tobytes()


def decode(blob: bytes, encoding: str = ENCODING) -> list[int]:
    if encoding != ENCODING:
        raise ValueError(f"unknown token timestamp encoding {encoding!r}")
    return np.cumsum(np.frombuffer(blob, dtype="<i8")).tolist()
