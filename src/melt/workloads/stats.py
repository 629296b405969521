"""Size statistics of a workload under a tokenizer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from melt.workloads.conversation import Workload

LONG_TURN_TOKENS = 400


@dataclass(frozen=True, slots=True)
class WorkloadStats:
    conversations: int
    turns: int
    turns_min: int
    turns_max: int
    tokens_per_turn: tuple[int, ...]

    @property
    def tokens_min(self) -> int:
        return min(self.tokens_per_turn)

    @property
    def tokens_max(self) -> int:
        return max(self.tokens_per_turn)

    @property
    def tokens_total(self) -> int:
        return sum(self.tokens_per_turn)

    @property
    def long_turns(self) -> int:
        return sum(1 for n in self.tokens_per_turn if n >= LONG_TURN_TOKENS)


def workload_stats(workload: Workload, tokenize: Callable[[str], list[int]]) -> WorkloadStats:
    """Token counts of each user turn's text alone (no chat template, no history)."""
    lengths = [len(conv.turns) for conv in workload.conversations]
    tokens = tuple(len(tokenize(t)) for conv in workload.conversations for t in conv.turns)
    return WorkloadStats(len(lengths), sum(lengths), min(lengths), max(lengths), tokens)
