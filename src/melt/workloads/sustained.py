"""Sustained mode: one long conversation, as the MELT paper's 48-prompt single conversation,
kept going until a time budget runs out (the session stops it; the turns only need to last)."""

from __future__ import annotations

from itertools import chain, cycle, islice

from melt.workloads.conversation import Conversation, Workload

SUSTAINED_MAX_TURNS = 10_000


def sustained_conversation(
    workload: Workload, max_turns: int = SUSTAINED_MAX_TURNS
) -> Conversation:
    """Every user turn of the workload in order, cycled, as a single conversation."""
    turns = list(chain.from_iterable(c.turns for c in workload.conversations))
    if not turns:
        raise ValueError("workload has no turns")
    return Conversation(
        id=f"sustained:{workload.name}",
        turns=tuple(islice(cycle(turns), max_turns)),
        title="sustained",
    )
