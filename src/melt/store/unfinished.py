"""Runs whose final status could not be written, and the next open that records why.

When a run's last write fails (its PostgreSQL server stayed away past the retry window,
its disk is full), `left_unfinished` appends a line to a journal outside the store,
``$MELT_CACHE/unfinished.jsonl`` (``~/.cache/melt`` by default), naming the store, the run,
its writer and the reason. The next open of that store (`settle`, any melt command, any
process on this machine) marks each such run `abandoned`, with the reason as its error and
the time of the failure as its end, and drops the line. Without the journal (it could not
be written either) the run still shows as `abandoned` on read (store/liveness.py), only
without the reason.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

from melt.models.artifact import cache_dir
from melt.store.failures import StoreError, StoreUnavailable
from melt.store.liveness import this_process

log = logging.getLogger(__name__)

JOURNAL_NAME = "unfinished.jsonl"


def journal_path() -> Path:
    return cache_dir() / JOURNAL_NAME


@dataclass(frozen=True, slots=True)
class Unfinished:
    """One run left `running` by a writer that could not give it its final status."""

    store: str  # StoreLocation.key
    run_id: int
    pid: int
    host: str
    status: str  # the final status its writer meant to store
    error: str | None  # the run's own error, as its writer meant to store it
    reason: str  # why the final status could not be written
    at: str  # when (ISO 8601, UTC)

    def abandoned_error(self) -> str:
        """The error stored with the run when it is marked abandoned."""
        own = f"; the run's own error: {self.error}" if self.error else ""
        return (
            f"its final status ('{self.status}') could not be written at {self.at}: "
            f"{self.reason}{own}"
        )


@contextlib.contextmanager
def _locked_journal() -> Iterator[IO[str]]:
    """The journal opened for reading and appending, held against other melt processes."""
    path = journal_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield fh
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def left_unfinished(
    store_key: str,
    shown: str,
    run_id: int,
    status: str,
    error: str | None,
    cause: StoreUnavailable,
    at: str,
) -> StoreUnavailable:
    """Journal a run whose final status could not be written; the one line to raise."""
    writer = this_process()
    entry = Unfinished(
        store_key, run_id, writer["pid"], writer["host"], status, error, str(cause), at
    )
    try:
        with _locked_journal() as fh:
            fh.write(json.dumps(asdict(entry)) + "\n")
    except OSError as exc:
        return StoreUnavailable(
            f"{cause} (run {run_id} is left without its final status '{status}'; melt could "
            f"not note it in {journal_path()} either: {exc.strerror or exc}, so the next open "
            f"of '{shown}' shows it abandoned without this reason)"
        )
    return StoreUnavailable(
        f"{cause} (run {run_id} is left without its final status '{status}'; the next melt "
        f"command that opens '{shown}' marks it abandoned with this reason)"
    )


def _entries(fh: IO[str]) -> list[Unfinished]:
    fh.seek(0)
    entries = []
    for line in fh:
        try:
            entries.append(Unfinished(**json.loads(line)))
        except (ValueError, TypeError):
            log.warning("ignoring a malformed line in %s: %.80s", journal_path(), line)
    return entries


def settle(store_key: str, abandon: Callable[[Unfinished], None]) -> int:
    """Mark every journaled run of this store abandoned (`abandon` writes one); lines of
    other stores, and of runs this store cannot take a write for yet, stay. How many
    were settled."""
    if not journal_path().exists():
        return 0
    try:
        return _settle(store_key, abandon)
    except OSError as exc:  # a journal melt cannot rewrite: the runs wait for a later open
        log.warning("cannot settle the runs noted in %s: %s", journal_path(), exc)
        return 0


def _settle(store_key: str, abandon: Callable[[Unfinished], None]) -> int:
    with _locked_journal() as fh:
        entries = _entries(fh)
        kept = []
        for entry in entries:
            if entry.store != store_key:
                kept.append(entry)
                continue
            try:
                abandon(entry)
            except StoreError as exc:
                log.info("run %d stays in %s: %s", entry.run_id, journal_path(), exc)
                kept.append(entry)
        if len(kept) != len(entries):
            fh.seek(0)
            fh.truncate()
            fh.writelines(json.dumps(asdict(e)) + "\n" for e in kept)
        return len(entries) - len(kept)
