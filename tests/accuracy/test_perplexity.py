"""Perplexity and divergence arithmetic on hand-made distributions."""

import math

import numpy as np
import pytest

from melt.accuracy.perplexity import (
    first_scored,
    kl_divergence,
    scored_per_window,
    target_nll,
    token_windows,
    top1_agreement,
)
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


@pytest.mark.parametrize(
    ("window", "first", "scored"),
    # llama-perplexity: `first = n_ctx/2`; the logits of positions first … n_ctx-2 are scored,
    # each against the next token, so tokens first+1 … n_ctx-1 are: n_ctx - first - 1.
    [(512, 257, 255), (256, 129, 127), (257, 129, 128), (3, 2, 1), (2, 2, 0)],
)
def test_scored_tokens_are_llama_perplexitys(window: int, first: int, scored: int) -> None:
    assert first_scored(window) == first
    assert scored_per_window(window) == scored


@pytest.mark.parametrize("window", [2, 1, 0, -4])
def test_a_window_that_scores_nothing_is_a_one_line_error(window: int) -> None:
    with pytest.raises(MeltError, match=f"--ppl-ctx {window} leaves no token to score"):
        token_windows(list(range(100)), window, 50)
