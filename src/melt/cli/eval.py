"""`melt eval`: what each quantization costs in accuracy, offline."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from melt.accuracy.evaluate import EvalSettings, run_eval
from melt.accuracy.export import check_output, write_results
from melt.accuracy.perplexity import DEFAULT_TOKEN_BUDGET, DEFAULT_WINDOW_TOKENS
from melt.accuracy.sampling import DEFAULT_SEED
from melt.accuracy.scorer import DEFAULT_BATCH, DEFAULT_CTX, MICRO_BATCH
from melt.accuracy.tasks import get_task
from melt.cli.models import MODEL_HELP
from melt.config.settings import default_threads
from melt.errors import MeltError
from melt.frameworks import get_framework
from melt.frameworks.registry import DEFAULT, declaration, scoring_names
from melt.models import Artifact, resolve_variant
from melt.models.bundled import DEFAULT_MODEL
from melt.report.accuracy import eval_document, eval_summary
from melt.report.console import stdout_console
from melt.store import open_store
from melt.values import integer

log = logging.getLogger(__name__)

DEFAULT_TASKS = "arc_easy"
# A perplexity window is scored on its second half: 4 tokens leave at least one token scored
# whether the half's first token is scored (melt) or skipped (llama-perplexity).
MIN_PPL_CTX = 4


def _names(text: str | None) -> list[str]:
    return [] if text is None else [p.strip() for p in text.split(",") if p.strip()]


def _variants(model: str, quant: str | None, framework: str) -> list[Artifact]:
    """Resolved variants in the order given, the same file only once. A variant may name
    its framework (`llama.cpp:q4_0`, `onnxruntime-genai:int4`); others use `framework`."""
    chosen: list[tuple[str, str | None]] = []
    for item in _names(quant) or [None]:
        name, q = framework, item
        if item is not None and ":" in item:
            name, q = item.split(":", 1)
        _check_scores(name)  # every name before the first variant is made
        chosen.append((name, q))
    artifacts: dict[str, Artifact] = {}
    for name, q in chosen:
        if name == DEFAULT:  # the default resolves any model as is; its format picks the scorer
            artifact = resolve_variant(model, q)
        else:
            artifact = get_framework(name).variant(model, q or None, log.info)
        artifacts.setdefault(artifact.sha256, artifact)
    return list(artifacts.values())


def _check_scores(framework: str) -> None:
    """One line when the framework has no scorer (a server framework: eval scores in
    melt's process), naming those that have one."""
    if declaration(framework).scorer is None:
        raise MeltError(
            f"--framework {framework}: melt eval cannot score with it "
            f"(frameworks that score: {scoring_names()})"
        )


def eval_command(
    model: str = typer.Option(DEFAULT_MODEL, help=MODEL_HELP),
    quant: str = typer.Option(
        None,
        help="Variants to score, e.g. f16,q8_0,q4_0 (made and cached); default: as is. "
        "FRAMEWORK:VARIANT mixes frameworks, e.g. int4,llama.cpp:q4_0,llama.cpp:f32.",
    ),
    framework: str = typer.Option(DEFAULT, help=f"Framework that scores: {scoring_names()}."),
    tasks: str = typer.Option(
        DEFAULT_TASKS,
        help="Comma-separated tasks: arc_easy, arc_challenge, hellaswag, winogrande, piqa, "
        "boolq, mmlu, mmlu_5shot, lambada_openai, or a task YAML file.",
    ),
    limit: int = typer.Option(None, help="Score N items per task, drawn with --seed."),
    seed: int = typer.Option(DEFAULT_SEED, help="Seed of the --limit draw."),
    perplexity: bool = typer.Option(
        False, "--perplexity", help="Also wiki.utf8 perplexity, KL divergence and top-1 agreement."
    ),
    ppl_ctx: int = typer.Option(DEFAULT_WINDOW_TOKENS, help="Perplexity window in tokens."),
    ppl_tokens: int = typer.Option(DEFAULT_TOKEN_BUDGET, help="Perplexity text budget in tokens."),
    threads: int = typer.Option(None, help="CPU threads (default: physical cores)."),
    ctx: int = typer.Option(DEFAULT_CTX, help="Context size in tokens."),
    batch: int = typer.Option(
        DEFAULT_BATCH, help=f"Tokens per llama_decode call (at least {MICRO_BATCH})."
    ),
    store: str = typer.Option(None, help="Results store: a path or SQLAlchemy URL."),
    output: Path = typer.Option(None, help="Write lm-evaluation-harness results JSON here."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document, no table."),
) -> None:
    """Score model variants on lm-eval tasks (and perplexity), offline."""
    for flag, value in (
        ("--limit", limit),
        ("--threads", threads),
        ("--ctx", ctx),
        ("--batch", batch),
        ("--ppl-tokens", ppl_tokens),
    ):
        if value is not None:
            integer(value, flag)
    integer(ppl_ctx, "--ppl-ctx", at_least=MIN_PPL_CTX)
    integer(seed, "--seed", at_least=0)
    if batch < MICRO_BATCH:
        raise MeltError(f"--batch {batch} is too small: use at least {MICRO_BATCH} tokens")
    if output is not None:
        check_output(output)
    task_list = [get_task(name) for name in _names(tasks)]
    if not task_list and not perplexity:
        raise MeltError("--tasks: name at least one task (or pass --perplexity)")
    artifacts = _variants(model, quant, framework)
    settings = EvalSettings(
        threads=threads or default_threads(),
        ctx=ctx,
        batch=batch,
        limit=limit,
        seed=seed,
        perplexity=perplexity,
        ppl_window_tokens=ppl_ctx,
        ppl_tokens=ppl_tokens,
    )
    results_store = open_store(store, write=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        ids: dict[str, int] = {}

        def progress(label: str, done: int, total: int) -> None:
            if label not in ids:
                ids[label] = bar.add_task(label, total=total)
            bar.update(ids[label], completed=done)

        result = run_eval(artifacts, task_list, settings, results_store, progress)
    written = write_results(result, output) if output is not None else []
    if as_json:
        doc = eval_document(result, results_store.spec)
        print(json.dumps({**doc, "lm_eval_results": [str(p) for p in written]}, indent=2))
        return
    stdout_console().print(eval_summary(result, results_store.spec))
    for path in written:
        stdout_console().print(f"lm-eval results JSON: {path}")
