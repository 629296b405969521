"""The built-in conversation set meets what the benchmark promises about it."""

from collections.abc import Callable

import pytest

from melt.frameworks import get_framework
from melt.models import Artifact
from melt.workloads import BUILTIN_WORKLOAD, load_workload
from melt.workloads.stats import workload_stats


@pytest.fixture(scope="module")
def tokenize(bundled: Artifact) -> Callable[[str], list[int]]:
    return get_framework("llama.cpp").tokenizer(bundled)


def test_shape() -> None:
    w = load_workload(BUILTIN_WORKLOAD)
    assert len(w.conversations) >= 20
    assert all(4 <= len(c.turns) <= 10 for c in w.conversations)
    assert len({c.id for c in w.conversations}) == len(w.conversations)


def test_mixes_short_and_long_turns(tokenize: Callable[[str], list[int]]) -> None:
    stats = workload_stats(load_workload(BUILTIN_WORKLOAD), tokenize)
    assert stats.long_turns >= 10  # pasted inputs of 400+ tokens exercise prefill
    assert sum(1 for n in stats.tokens_per_turn if n < 25) >= 40  # short chat turns
    # The default run (first 3 conversations) includes a long pasted input.
    default = workload_stats(load_workload(BUILTIN_WORKLOAD).take(3), tokenize)
    assert default.long_turns >= 1
