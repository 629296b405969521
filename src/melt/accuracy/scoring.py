"""Pure scoring: from choice log-likelihoods to per-item correctness and task scores with a
bootstrap standard error. No model, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from melt.accuracy.tasks import ACC, ACC_NORM, Item

BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0


@dataclass(frozen=True, slots=True)
class Score:
    """One metric of one task: the mean over n items (a fraction, 0–1) and the bootstrap
    standard error of that mean (same unit)."""

    metric: str
    value: float
    stderr: float
    n: int


def item_correct(item: Item, logprobs: Sequence[float], metric: str) -> bool:
    """lm-eval's multiple-choice rule: the argmax of the log-likelihoods (acc) or of the
    log-likelihoods divided by each choice's length in characters (acc_norm); the first
    choice wins a tie, as with `np.argmax`."""
    values = np.asarray(logprobs, dtype=float)
    if metric == ACC_NORM:
        values = values / np.asarray([float(len(c)) for c in item.choices])
    elif metric != ACC:
        raise ValueError(f"unknown metric {metric!r}")
    return int(np.argmax(values)) == item.gold


def bootstrap_stderr(
    values: Sequence[float], resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED
) -> float:
    """Standard deviation of the mean over `resamples` seeded resamples with replacement;
    0 for fewer than two values."""
    data = np.asarray(values, dtype=float)
    if data.size < 2:
        return 0.0
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(resamples, data.size))].mean(axis=1)
    return float(means.std(ddof=1))


def score(items: Sequence[Item], logprobs: Sequence[Sequence[float]], metric: str) -> Score:
    correct = [
        1.0 if item_correct(i, lp, metric) else 0.0 for i, lp in zip(items, logprobs, strict=True)
    ]
    value = float(np.mean(correct)) if correct else float("nan")
    return Score(metric=metric, value=value, stderr=bootstrap_stderr(correct), n=len(correct))
