"""The server's counts, checked against what melt observed, before any is stored.

A server says how many tokens it generated (`timings.predicted_n`, `usage.
completion_tokens`) and how long its prompt was (`prompt_n`, `cache_n`, `usage.
prompt_tokens`). melt observes bounds of its own for each: a reply cannot hold more tokens
than the request allowed (`max_tokens`, the reply budget) nor fewer than the events that
carried text; a running count does not fall; no count or duration is negative. A count
outside its bounds is refused: it is kept verbatim in the turn's raw server figures under
`refused` with the reason, logged, and the measurement falls back to what was observed
(one token per event with text) or stays unknown (None). It is never stored as a count.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass(slots=True)
class CountCheck:
    """The refusals of one turn, by the name of the server's field."""

    refused: dict[str, str] = field(default_factory=dict)

    def within(
        self,
        name: str,
        value: float | None,
        low: tuple[float, str] = (0, "a count is never negative"),
        high: tuple[float, str] | None = None,
    ) -> bool:
        """Whether `value` lies within [low, high]; a value outside is refused (once per
        field) with the bound's reason. An absent value is not refused (and not within)."""
        if value is None or name in self.refused:
            return False
        (least, least_why), (most, most_why) = low, high or (float("inf"), "")
        if value < least:
            self.refuse(name, f"{value:g} is below {least:g}: {least_why}")
            return False
        if value > most:
            self.refuse(name, f"{value:g} is above {most:g}: {most_why}")
            return False
        return True

    def refuse(self, name: str, reason: str) -> None:
        if name not in self.refused:
            log.warning("the server's %s was not stored: %s", name, reason)
            self.refused[name] = reason

    def count(self, name: str, value: int | None, **bounds: tuple[float, str]) -> int | None:
        """`value` when it is within its bounds, else None."""
        return value if self.within(name, value, **bounds) else None

    def duration_ms(self, name: str, value: float | None) -> float | None:
        return value if self.within(name, value, low=(0, "a duration is never negative")) else None


def budget_bound(budget: int) -> tuple[float, str]:
    """The reply budget as an upper bound on a generated-token count."""
    return budget, f"the request allowed at most {budget} new tokens (max_tokens)"


def events_bound(content_events: int) -> tuple[float, str]:
    """The events that carried text as a lower bound on a generated-token count."""
    return content_events, f"{content_events} events carried text, each at least one token"
