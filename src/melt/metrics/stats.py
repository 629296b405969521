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


def _row_medians(rows: np.ndarray) -> np.ndarray:
    """`np.median(rows, axis=1)`, equal to it bit for bit (the mean of the two middle values
    of each sorted row), and several times faster for the bootstrap's short rows."""
    ordered = np.sort(rows, axis=1)
    n = rows.shape[1]
    return (ordered[:, (n - 1) // 2] + ordered[:, n // 2]) / 2


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
        medians = _row_medians(resamples)
        low, high = (float(x) for x in np.percentile(medians, [2.5, 97.5]))
    return Aggregate(
        n=n,
        median=median,
        mean=float(np.mean(data)),
        p90=float(np.percentile(data, 90)),
        ci_low=low,
        ci_high=high,
    )


def _finite(values: Sequence[float | None]) -> np.ndarray:
    return np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)


def coefficient_of_variation(values: Sequence[float | None]) -> float:
    """Sample standard deviation (n − 1) over the mean; NaN below two values or at mean 0."""
    data = _finite(values)
    if data.size < 2 or float(np.mean(data)) == 0.0:
        return float("nan")
    return float(np.std(data, ddof=1) / abs(np.mean(data)))


CV_FLAG_THRESHOLD = 0.10  # a run whose per-turn decode rates spread more than this is flagged


@dataclass(frozen=True, slots=True)
class Outliers:
    """Which observations a rule flags; they stay in every aggregate (reported, not dropped)."""

    rule: str
    low_fence: float
    high_fence: float
    indices: tuple[int, ...]
    values: tuple[float, ...]


TUKEY_K = 1.5


def tukey_outliers(values: Sequence[float | None], k: float = TUKEY_K) -> Outliers:
    """Values outside [Q1 − k·IQR, Q3 + k·IQR] (quartiles by linear interpolation). Indices
    refer to `values` as given, missing values included."""
    data = _finite(values)
    rule = f"Tukey {k:g}×IQR"
    if data.size < 4:
        nan = float("nan")
        return Outliers(rule, nan, nan, (), ())
    q1, q3 = (float(x) for x in np.percentile(data, [25, 75]))
    low, high = q1 - k * (q3 - q1), q3 + k * (q3 - q1)
    flagged = [
        (i, float(v))
        for i, v in enumerate(values)
        if v is not None and not math.isnan(v) and (v < low or v > high)
    ]
    return Outliers(rule, low, high, tuple(i for i, _ in flagged), tuple(v for _, v in flagged))


@dataclass(frozen=True, slots=True)
class RateAggregate:
    """A rate over turns two ways. `pooled` = total units / total seconds (each turn weighs
    by its duration); `per_turn` = the distribution of per-turn rates (its median is what
    tables show by default; a mean of rates reads high when the spread is large)."""

    pooled: float
    per_turn: Aggregate
    cv: float
    outliers: Outliers

    def as_dict(self) -> dict[str, object]:
        return {
            "pooled": None if math.isnan(self.pooled) else self.pooled,
            "per_turn": self.per_turn.as_dict(),
            "cv": None if math.isnan(self.cv) else self.cv,
            "outliers": {
                "rule": self.outliers.rule,
                "indices": list(self.outliers.indices),
                "values": list(self.outliers.values),
            },
        }


def rate_aggregate(units: Sequence[float], seconds: Sequence[float | None]) -> RateAggregate:
    """Aggregate per-turn (units, seconds) pairs; pairs without a positive duration are left
    out of both forms."""
    pairs = [(u, s) for u, s in zip(units, seconds, strict=True) if s is not None and s > 0]
    total_s = sum(s for _, s in pairs)
    pooled = sum(u for u, _ in pairs) / total_s if total_s > 0 else float("nan")
    rates = [u / s for u, s in pairs]
    return RateAggregate(
        pooled=pooled,
        per_turn=aggregate(rates),
        cv=coefficient_of_variation(rates),
        outliers=tukey_outliers(rates),
    )


@dataclass(frozen=True, slots=True)
class MannWhitney:
    """Two-sided Mann-Whitney U test. `u` is the statistic of the first sample; `method` is
    ``exact`` (no ties and a sample of at most `EXACT_MAX_N`) or ``normal``
    (tie-corrected, with continuity correction), as scipy's ``method="auto"`` chooses."""

    u: float
    p_value: float
    method: str


EXACT_MAX_N = 8


def _exact_u_counts(n1: int, n2: int) -> np.ndarray:
    """Number of rank arrangements giving each U (0..n1·n2): the coefficients of the
    Gaussian binomial [n1 + n2 choose m]_q = prod_{i=1..m} (1 − q^(n+i)) / (1 − q^i), with
    m the smaller sample, n the larger."""
    m, n = sorted((n1, n2))
    poly = np.zeros(m * n + 1)
    poly[0] = 1.0
    for i in range(1, m + 1):
        shift = n + i
        if shift < poly.size:
            poly[shift:] -= poly[: poly.size - shift].copy()
        for r in range(i):  # divide by (1 − q^i): running sums with stride i
            poly[r::i] = np.cumsum(poly[r::i])
    return poly


def _ranks(data: np.ndarray) -> np.ndarray:
    """Average ranks (1-based), ties sharing the mean of their positions."""
    order = np.argsort(data, kind="mergesort")
    ranks = np.empty(data.size)
    sorted_data = data[order]
    i = 0
    while i < data.size:
        j = i
        while j + 1 < data.size and sorted_data[j + 1] == sorted_data[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def mann_whitney_u(a: Sequence[float], b: Sequence[float]) -> MannWhitney:
    """Two-sided test that `a` and `b` come from the same distribution."""
    x, y = _finite(a), _finite(b)
    n1, n2 = x.size, y.size
    if n1 == 0 or n2 == 0:
        return MannWhitney(float("nan"), float("nan"), "none")
    combined = np.concatenate([x, y])
    ranks = _ranks(combined)
    u1 = float(ranks[:n1].sum() - n1 * (n1 + 1) / 2)
    u2 = n1 * n2 - u1
    big = max(u1, u2)
    has_ties = np.unique(combined).size < combined.size
    if not has_ties and min(n1, n2) <= EXACT_MAX_N:
        counts = _exact_u_counts(n1, n2)
        total = counts.sum()
        p = 2 * counts[round(big) :].sum() / total
        return MannWhitney(u1, min(1.0, float(p)), "exact")
    n = n1 + n2
    _, tie_counts = np.unique(combined, return_counts=True)
    tie_term = float((tie_counts**3 - tie_counts).sum()) / (n * (n - 1))
    sigma = math.sqrt(n1 * n2 / 12 * ((n + 1) - tie_term))
    if sigma == 0:
        return MannWhitney(u1, 1.0, "normal")
    z = (big - n1 * n2 / 2 - 0.5) / sigma
    p = math.erfc(z / math.sqrt(2))
    return MannWhitney(u1, min(1.0, p), "normal")


@dataclass(frozen=True, slots=True)
class Difference:
    """candidate − baseline of the medians, with a percentile-bootstrap 95% CI (each sample
    resampled on its own, `BOOTSTRAP_RESAMPLES` times, seeded)."""

    baseline_median: float
    candidate_median: float
    diff: float
    pct_change: float
    ci_low: float
    ci_high: float

    @property
    def ci_excludes_zero(self) -> bool:
        return self.ci_low > 0 or self.ci_high < 0


def median_difference(
    baseline: Sequence[float | None], candidate: Sequence[float | None], seed: int = BOOTSTRAP_SEED
) -> Difference:
    x, y = _finite(baseline), _finite(candidate)
    nan = float("nan")
    if x.size == 0 or y.size == 0:
        return Difference(nan, nan, nan, nan, nan, nan)
    mx, my = float(np.median(x)), float(np.median(y))
    rng = np.random.default_rng(seed)
    bx = _row_medians(rng.choice(x, size=(BOOTSTRAP_RESAMPLES, x.size)))
    by = _row_medians(rng.choice(y, size=(BOOTSTRAP_RESAMPLES, y.size)))
    low, high = (float(v) for v in np.percentile(by - bx, [2.5, 97.5]))
    pct = (my - mx) / abs(mx) * 100 if mx != 0 else nan
    return Difference(mx, my, my - mx, pct, low, high)
