"""Pure scoring: lm-eval's acc / acc_norm rules and the bootstrap standard error."""

import math

import pytest

from melt.accuracy.scoring import bootstrap_stderr, item_correct, score
from melt.accuracy.tasks import ACC, ACC_NORM, Item, multiple_choice

# Choice 1 has the higher total log-likelihood (-3 > -4) and per character (-0.3 > -2).
ITEM = multiple_choice(0, "Q", ["ab", "abcdefghij"], gold=0)
LOGPROBS = [-4.0, -3.0]


def test_acc_takes_the_argmax_of_the_sums() -> None:
    assert not item_correct(ITEM, LOGPROBS, ACC)


def test_acc_norm_divides_by_choice_characters() -> None:
    assert not item_correct(ITEM, LOGPROBS, ACC_NORM)
    # A long gold choice loses on the sum (-5 < -2) but wins per character (-0.5 > -1).
    long_gold = multiple_choice(0, "Q", ["ab", "abcdefghij"], gold=1)
    assert item_correct(long_gold, [-2.0, -5.0], ACC_NORM)
    assert not item_correct(long_gold, [-2.0, -5.0], ACC)


def test_ties_go_to_the_first_choice() -> None:
    assert item_correct(multiple_choice(0, "Q", ["x", "y"], gold=0), [-1.0, -1.0], ACC)
    assert not item_correct(multiple_choice(0, "Q", ["x", "y"], gold=1), [-1.0, -1.0], ACC)


def test_unknown_metric_is_refused() -> None:
    with pytest.raises(ValueError):
        item_correct(ITEM, LOGPROBS, "f1")


def test_item_checks_its_gold_index() -> None:
    with pytest.raises(ValueError):
        Item(doc_id=0, requests=ITEM.requests, choices=ITEM.choices, gold=2)


def test_bootstrap_stderr_matches_the_binomial_formula() -> None:
    values = [1.0] * 300 + [0.0] * 700
    expected = math.sqrt(0.3 * 0.7 / 1000)
    assert bootstrap_stderr(values) == pytest.approx(expected, rel=0.1)
    assert bootstrap_stderr(values) == bootstrap_stderr(values)  # seeded
    assert bootstrap_stderr([1.0]) == 0.0
    assert bootstrap_stderr([1.0, 1.0, 1.0]) == 0.0


def test_score_counts_items() -> None:
    items = [multiple_choice(i, "Q", ["a", "b"], gold=i % 2) for i in range(4)]
    result = score(items, [[-1.0, -2.0]] * 4, ACC)  # always picks choice 0
    assert (result.metric, result.value, result.n) == (ACC, 0.5, 4)
    assert result.stderr > 0
