"""`--limit`: seeded, reproducible, order-preserving selection."""

import pytest

from melt.accuracy.sampling import select, selection_sha256
from melt.accuracy.tasks import multiple_choice
from melt.errors import MeltError

ITEMS = [multiple_choice(i, f"q{i}", ["a", "b"], 0) for i in range(100)]


def test_same_seed_same_items_in_original_order() -> None:
    first = select(ITEMS, 10, seed=7)
    assert [i.doc_id for i in first] == [i.doc_id for i in select(ITEMS, 10, seed=7)]
    assert [i.doc_id for i in first] == sorted(i.doc_id for i in first)
    assert len({i.doc_id for i in first}) == 10


def test_other_seed_other_items() -> None:
    a, b = select(ITEMS, 10, seed=1), select(ITEMS, 10, seed=2)
    assert selection_sha256(a) != selection_sha256(b)
    assert selection_sha256(a) == selection_sha256(select(ITEMS, 10, seed=1))


def test_no_limit_or_a_large_one_keeps_everything() -> None:
    assert select(ITEMS, None) == ITEMS
    assert select(ITEMS, 500) == ITEMS


def test_limit_below_one_is_a_user_error() -> None:
    with pytest.raises(MeltError, match="--limit"):
        select(ITEMS, 0)
