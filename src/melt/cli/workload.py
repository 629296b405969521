"""`melt workload stats`: what a conversation file holds, in the model's tokens."""

from __future__ import annotations

import statistics

import typer
from rich.table import Table

from melt.frameworks import get_framework
from melt.models import resolve_model
from melt.models.bundled import DEFAULT_MODEL
from melt.report.console import stdout_console
from melt.workloads import load_workload
from melt.workloads.builtin import BUILTIN_WORKLOAD
from melt.workloads.stats import workload_stats

app = typer.Typer(help="Conversation sets.", no_args_is_help=True)


@app.command("stats")
def stats(
    file: str = typer.Argument(..., help="Conversation file, or builtin:chat."),
    model: str = typer.Option(DEFAULT_MODEL, help="Whose tokenizer counts the tokens."),
) -> None:
    """Conversations, turns, and tokens per turn (min/median/max) under a model's tokenizer."""
    workload = load_workload(file, f"pass a conversation file or {BUILTIN_WORKLOAD}")
    tokenize = get_framework("llama.cpp").tokenizer(resolve_model(model))
    s = workload_stats(workload, tokenize)
    table = Table(title=f"{workload.name} ({workload.format}) under {model}", title_justify="left")
    for column in (
        "conversations",
        "turns",
        "turns/conv min–max",
        "tokens/turn min",
        "median",
        "max",
        "turns ≥ 400 tokens",
        "total tokens",
    ):
        table.add_column(column, justify="right")
    table.add_row(
        str(s.conversations),
        str(s.turns),
        f"{s.turns_min}–{s.turns_max}",
        str(s.tokens_min),
        f"{statistics.median(s.tokens_per_turn):g}",
        str(s.tokens_max),
        str(s.long_turns),
        str(s.tokens_total),
    )
    stdout_console().print(table)
