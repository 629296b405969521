"""`melt bench`: run a workload on a model and print what a user of the device would feel."""

from __future__ import annotations

import json
import shlex
import sys

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from melt.config import RunSettings, SamplingSettings, default_threads
from melt.errors import MeltError
from melt.metrics.turn import TurnMetrics
from melt.models.bundled import DEFAULT_MODEL
from melt.report.bench import bench_document, bench_summary
from melt.session import BenchRequest, RunResult, run_bench
from melt.traces import TurnTrace
from melt.workloads import BUILTIN_WORKLOAD, Conversation

FLAG_OF_FIELD = {
    "threads": "--threads",
    "ctx": "--ctx",
    "batch": "--batch",
    "max_new_tokens": "--max-new-tokens",
    "seed": "--seed",
    "temperature": "--temperature",
}


def _settings(
    threads: int, ctx: int, batch: int, max_new_tokens: int, seed: int, temperature: float
) -> RunSettings:
    try:
        return RunSettings(
            threads=threads,
            ctx=ctx,
            batch=batch,
            max_new_tokens=max_new_tokens,
            sampling=SamplingSettings(seed=seed, temperature=temperature),
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][-1])
        flag = FLAG_OF_FIELD.get(name, name)
        raise MeltError(f"{flag}: {error['msg'].lower()} (got {error['input']})") from None


class ProgressObserver:
    """A bar over conversations and one over the turns of the current conversation."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.runs_task = progress.add_task("runs", total=None, status="")
        self.turn_task: int | None = None

    def run_started(self, run_id: int, repeat_index: int, repeats: int) -> None:
        self.progress.update(
            self.runs_task,
            description=f"run {run_id} ({repeat_index + 1}/{repeats})",
            total=repeats,
            completed=repeat_index,
        )

    def conversation_started(
        self, conversation: Conversation, index: int, total: int, warmup: bool
    ) -> None:
        if self.turn_task is not None:
            self.progress.remove_task(self.turn_task)
        label = "warmup" if warmup else f"conversation {index + 1}/{total}"
        self.turn_task = self.progress.add_task(
            f"{label} [dim]{conversation.id}[/dim]", total=len(conversation.turns), status=""
        )

    def turn_done(self, trace: TurnTrace, metrics: TurnMetrics) -> None:
        if self.turn_task is None:
            return
        rate = metrics.decode_tok_per_s
        status = f"{trace.generated_tokens} tok" + (f" @ {rate:.1f} tok/s" if rate else "")
        self.progress.update(self.turn_task, advance=1, status=status)

    def run_finished(self, result: RunResult) -> None:
        self.progress.update(self.runs_task, advance=1)


def bench(
    model: str = typer.Option(
        DEFAULT_MODEL, help="A bundled model name or a path to a .gguf file."
    ),
    workload: str = typer.Option(
        BUILTIN_WORKLOAD, help="Conversation file (MELT JSON or chat messages), or builtin:chat."
    ),
    threads: int = typer.Option(None, help="CPU threads (default: physical cores)."),
    max_new_tokens: int = typer.Option(64, help="Reply budget per turn, in tokens."),
    conversations: int = typer.Option(
        None, help="Run the first N conversations (default: 3 of the built-in set, or all)."
    ),
    repeats: int = typer.Option(1, help="Independent runs (fresh model load each)."),
    warmup: int = typer.Option(1, help="Warmup turns per run: run and stored, not aggregated."),
    seed: int = typer.Option(0, help="Sampling seed."),
    temperature: float = typer.Option(0.7, help="Sampling temperature; 0 = greedy."),
    ctx: int = typer.Option(2048, help="Context size in tokens."),
    batch: int = typer.Option(512, help="Prompt batch size in tokens."),
    store: str = typer.Option(None, help="Results store: a path or SQLAlchemy URL."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document, no table."),
) -> None:
    """Replay chat conversations through a model and measure speed and memory."""
    settings = _settings(
        threads if threads is not None else default_threads(),
        ctx,
        batch,
        max_new_tokens,
        seed,
        temperature,
    )
    request = BenchRequest(
        settings=settings,
        model=model,
        workload=workload,
        conversations=conversations,
        repeats=repeats,
        warmup_turns=warmup,
        store=store,
        command=shlex.join(["melt", *sys.argv[1:]]),
    )
    err = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[status]}"),
        console=err,
        transient=True,
    ) as progress:
        observer = ProgressObserver(progress)
        result = run_bench(request, observer)
    if as_json:
        print(json.dumps(bench_document(result), indent=2, default=str))
    else:
        Console().print(bench_summary(result))
