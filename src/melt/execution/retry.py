"""The one retry policy of a fleet, on one controller or on Ray: a run that did not complete
is run again while it has attempts left (`--retries N`: at most N more after the first), and
a run the store holds as completed is never run again.

Runs are keyed by plan id + cell + repeat + device (`run_key`), kept in each run's settings
as `run_key` from the moment its row exists, so the store, not a process's memory, says
what completed: a driver that restarts, or a retry on another thread, sees the same answer.
"""

from __future__ import annotations

from melt.errors import MeltError
from melt.results import STATUS_COMPLETED
from melt.store import Store, open_store


def run_key(plan_id: int, cell: int, repeat: int, device: str) -> str:
    return f"{plan_id}:{cell}:{repeat}:{device}"


def completed_keys(store: Store, plan_id: int) -> set[str]:
    """The keys of the plan's runs that completed."""
    keys = {
        (run["settings"] or {}).get("run_key")
        for run in store.runs_of_experiment(plan_id)
        if run["status"] == STATUS_COMPLETED
    }
    return {k for k in keys if k is not None}


def check_retries(retries: int) -> None:
    if retries < 0:
        raise MeltError(f"--retries must be 0 or more (got {retries})")


class Retries:
    """How many times each run (by key) failed, and whether it may run again."""

    def __init__(self, retries: int, store: Store | str, plan_id: int) -> None:
        check_retries(retries)
        self.retries = retries
        self._store = store
        self.plan_id = plan_id
        self.failures: dict[str, int] = {}

    @property
    def store(self) -> Store:
        if isinstance(self._store, str):  # opened on the first failure: most plans have none
            self._store = open_store(self._store, write=True)
        return self._store

    def failed(self, key: str) -> bool:
        """Count a failed attempt of `key`; True when it should run again (attempts left and
        not completed by any attempt)."""
        self.failures[key] = self.failures.get(key, 0) + 1
        return self.failures[key] <= self.retries and key not in self.completed()

    def completed(self) -> set[str]:
        return completed_keys(self.store, self.plan_id)
