"""Perplexity and divergence arithmetic on hand-made distributions."""

import math

import numpy as np
import pytest

from melt.accuracy.perplexity import kl_divergence, target_nll, token_windows, top1_agreement
from melt.errors import MeltError


def logp(rows: list[list[float]]) -> np.ndarray:
    return np.log(np.asarray(rows, dtype=float))


def test_kl_of_a_distribution_with_itself_is_zero() -> None:
    p = logp([[0.5, 0.25, 0.25], [0.1, 0.8, 0.1]])
    assert np.allclose(kl_divergence(p, p), 0.0)


def test_kl_matches_the_definition() -> None:
    p, q = logp([[0.5, 0.5]]), logp([[0.9, 0.1]])
    expected = 0.5 * math.log(0.5 / 0.9) + 0.5 * math.log(0.5 / 0.1)
    assert kl_divergence(p, q)[0] == pytest.approx(expected)
    assert kl_divergence(q, p)[0] != pytest.approx(expected)  # not symmetric


def test_top1_agreement_compares_argmaxes() -> None:
    p = logp([[0.6, 0.4], [0.3, 0.7]])
    q = logp([[0.9, 0.1], [0.8, 0.2]])
    assert top1_agreement(p, q).tolist() == [True, False]


def test_target_nll_picks_each_rows_target() -> None:
    rows = logp([[0.5, 0.25, 0.25], [0.1, 0.8, 0.1]])
    assert target_nll(rows, [1, 1]).tolist() == pytest.approx([math.log(4), -math.log(0.8)])


def test_windows_do_not_overlap_and_respect_the_budget() -> None:
    windows = token_windows(list(range(100)), 16, 50)
    assert [w[0] for w in windows] == [0, 16, 32]
    assert all(len(w) == 16 for w in windows)
    with pytest.raises(MeltError, match="--ppl-tokens"):
        token_windows(list(range(100)), 64, 50)
