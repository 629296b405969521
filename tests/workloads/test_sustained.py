from __future__ import annotations

import pytest

from melt.workloads.conversation import Conversation, Workload
from melt.workloads.sustained import sustained_conversation

WORKLOAD = Workload(
    "w",
    (Conversation("a", ("a1", "a2")), Conversation("b", ("b1",))),
    source="test",
    format="melt",
)


def test_all_turns_in_order_cycled_as_one_conversation() -> None:
    conv = sustained_conversation(WORKLOAD, max_turns=7)
    assert conv.id == "sustained:w"
    assert conv.turns == ("a1", "a2", "b1", "a1", "a2", "b1", "a1")


def test_empty_workload_is_refused() -> None:
    with pytest.raises(ValueError, match="no turns"):
        sustained_conversation(Workload("e", (), source="t", format="melt"))
