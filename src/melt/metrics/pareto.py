"""Pareto-optimal points: none of the others is at least as good on every axis and better
on one."""

from __future__ import annotations

from collections.abc import Sequence

from melt.metrics.compare import Better


def pareto_optimal(points: Sequence[Sequence[float]], better: Sequence[Better]) -> list[bool]:
    """For each point (one value per axis, directions in `better`), whether it is optimal."""
    signed = [
        [v if b is Better.HIGHER else -v for v, b in zip(p, better, strict=True)] for p in points
    ]

    def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
        return all(x >= y for x, y in zip(a, b, strict=True)) and any(
            x > y for x, y in zip(a, b, strict=True)
        )

    return [not any(dominates(other, p) for other in signed if other is not p) for p in signed]
