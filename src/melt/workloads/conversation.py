"""A conversation is the user turns a chat app would send, in order."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Conversation:
    id: str
    turns: tuple[str, ...]
    title: str = ""


@dataclass(frozen=True, slots=True)
class Workload:
    """A named set of conversations; `sha256` identifies its content across files."""

    name: str
    conversations: tuple[Conversation, ...]
    source: str
    format: str

    @property
    def sha256(self) -> str:
        payload = json.dumps([list(c.turns) for c in self.conversations], ensure_ascii=False)
        return hashlib.sha256(payload.encode()).hexdigest()

    @property
    def n_turns(self) -> int:
        return sum(len(c.turns) for c in self.conversations)

    def warmup_turns(self, n_turns: int) -> int:
        """How many warmup turns a request for `n_turns` replays: the workload has no more
        than `n_turns` turns to give, so this is what a run records and reports."""
        return max(0, min(n_turns, self.n_turns))

    def warmup(self, n_turns: int) -> tuple[Conversation, ...]:
        """Conversations made of the workload's first `n_turns` turns, in order, each cut
        where the turn budget runs out: what a run replays before it starts measuring
        (`warmup_turns(n_turns)` turns in all, never more than the workload holds)."""
        out = []
        left = n_turns
        for conv in self.conversations:
            if left <= 0:
                break
            turns = conv.turns[:left]
            out.append(Conversation(id=f"warmup:{conv.id}", turns=turns, title=conv.title))
            left -= len(turns)
        return tuple(out)

    def take(self, n: int | None) -> Workload:
        """The first `n` conversations (all when `n` is None), in file order."""
        if n is None:
            return self
        return Workload(self.name, self.conversations[:n], self.source, self.format)
