"""The progress displays of the CLI, on stderr and gone when done, so stdout keeps only the
result (a table or `--json`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from melt.metrics.turn import TurnMetrics
from melt.traces import TurnTrace


def run_progress() -> Progress:
    """Bars over runs (and turns), each with a `status` field: what `melt bench` shows,
    on one device or one line per device."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[status]}"),
        console=Console(stderr=True),
        transient=True,
    )


@contextmanager
def step_progress(first: str = "") -> Iterator[Callable[[str], None]]:
    """A spinner with what is being done now and for how long (making a model variant);
    the callable it gives says what is being done next."""
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task(first, total=None)
        yield lambda message: progress.update(task, description=message)


def turn_status(trace: TurnTrace, metrics: TurnMetrics) -> str:
    """A finished turn in a few words: its tokens and decode rate."""
    rate = metrics.decode_tok_per_s
    return f"{trace.generated_tokens} tok" + (f" @ {rate:.1f} tok/s" if rate else "")
