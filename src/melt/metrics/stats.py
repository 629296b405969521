"""Aggregates with uncertainty: n, median, mean, p90 and a bootstrap 95% CI of the median."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0


@dataclass(frozen=True, slots=True)
class Aggregate:
    """Summary of one metric over n observations; the CI is for the median (percentile
    bootstrap, 95%). With n = 0 every statistic is NaN; with n = 1 the CI is the value."""

    n: int
    median: float
    mean: float
    p90: float
    ci_low: float
    ci_high: float

    def as_dict(self) -> dict[str, float | int | None]:
        return {
            k: (None if isinstance(v, float) and math.isnan(v) else v)
            for k, v in (
                ("n", self.n),
                ("median", self.median),
                ("mean", self.mean),
                ("p90", self.p90),
                ("ci_low", self.ci_low),
                ("ci_high", self.ci_high),
            )
        }


def aggregate(values: Sequence[float | None], seed: int = BOOTSTRAP_SEED) -> Aggregate:
    """Aggregate the non-missing values; `None` and NaN are dropped before counting."""
    data = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    n = int(data.size)
    if n == 0:
        nan = float("nan")
        return Aggregate(0, nan, nan, nan, nan, nan)
    median = float(np.median(data))
    if n == 1:
        low = high = median
    else:
        rng = np.random.default_rng(seed)
        resamples = rng.choice(data, size=(BOOTSTRAP_RESAMPLES, n), replace=True)
        medians = np.median(resamples, axis=1)
        low, high = (float(x) for x in np.percentile(medians, [2.5, 97.5]))
    return Aggregate(
        n=n,
        median=median,
        mean=float(np.mean(data)),
        p90=float(np.percentile(data, 90)),
        ci_low=low,
        ci_high=high,
    )
