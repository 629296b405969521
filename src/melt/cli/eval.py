"""`melt eval`: what each quantization costs in accuracy, offline."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from melt.accuracy.evaluate import EvalSettings, run_eval
from melt.accuracy.export import check_output, write_results
from melt.accuracy.llama_perplexity import DeviceText
from melt.accuracy.perplexity import DEFAULT_TOKEN_BUDGET, DEFAULT_WINDOW_TOKENS
from melt.accuracy.sampling import DEFAULT_SEED
from melt.accuracy.scorer import DEFAULT_BATCH, DEFAULT_CTX, MICRO_BATCH
from melt.accuracy.tasks import get_task
from melt.cli.devices import ACCEPT_OPTION, DEVICES_OPTION
from melt.cli.models import MODEL_HELP
from melt.config.settings import default_threads
from melt.devices.inventory import ConnectOptions, find_entry, inventory_path, load_inventory
from melt.devices.inventory import open_device as open_inventory_device
from melt.errors import MeltError
from melt.execution.device_perplexity import Progress as Report
from melt.execution.device_perplexity import device_perplexity
from melt.frameworks import get_framework
from melt.frameworks.registry import DEFAULT, declaration, scoring_names
from melt.models import Artifact, resolve_variant
from melt.models.bundled import DEFAULT_MODEL
from melt.report.accuracy import eval_document, eval_summary
from melt.report.console import stdout_console
from melt.report.device_text import device_text_document, device_text_table
from melt.store import Store, open_store
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


def _check_device_eval(
    perplexity: bool, tasks: str | None, output: Path | None, framework: str
) -> None:
    """On a device melt runs llama-perplexity only: the tasks score in melt's process."""
    if not perplexity:
        raise MeltError("--device: pass --perplexity (llama-perplexity runs on the device)")
    if tasks or output is not None:
        raise MeltError(
            "--device scores wiki.utf8 perplexity with the device's llama-perplexity; the "
            "tasks (--tasks, --output) score in melt's process: run them without --device"
        )
    if framework != DEFAULT:
        raise MeltError(f"--device scores with llama.cpp's llama-perplexity, not {framework}")


def on_device(
    name: str, devices: Path | None, accept: bool, artifacts: list[Artifact], settings: EvalSettings
) -> Callable[[Store, Report], list[DeviceText]]:
    """The device opened and checked now (bad input before any scoring); scoring later."""
    entry = find_entry(load_inventory(inventory_path(devices)), name)
    device = open_inventory_device(entry, ConnectOptions(accept_new_host_key=accept))

    def score(store: Store, progress: Report) -> list[DeviceText]:
        try:
            return device_perplexity(device, artifacts, settings, store, progress)
        finally:
            device.close()

    return score


def _print(doc: Any, as_json: bool) -> None:
    if as_json:
        print(json.dumps(doc, indent=2))
    else:
        stdout_console().print(doc)


def eval_command(
    model: str = typer.Option(DEFAULT_MODEL, help=MODEL_HELP),
    quant: str = typer.Option(
        None,
        help="Variants to score, e.g. f16,q8_0,q4_0 (made and cached); default: as is. "
        "FRAMEWORK:VARIANT mixes frameworks, e.g. int4,llama.cpp:q4_0,llama.cpp:f32.",
    ),
    framework: str = typer.Option(DEFAULT, help=f"Framework that scores: {scoring_names()}."),
    tasks: str = typer.Option(
        None,
        help=f"Comma-separated tasks (default {DEFAULT_TASKS}): arc_easy, arc_challenge, "
        "hellaswag, winogrande, piqa, boolq, mmlu, mmlu_5shot, lambada_openai, or a task "
        "YAML file.",
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
    device: str = typer.Option(
        None,
        help="With --perplexity: score each variant with llama-perplexity ON this device (the "
        "build beside its llama-server) against melt's reference on this machine.",
    ),
    devices: Path = DEVICES_OPTION,
    accept_new_host_key: bool = ACCEPT_OPTION,
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
    if device is not None:
        _check_device_eval(perplexity, tasks, output, framework)
    names = [] if device is not None else _names(DEFAULT_TASKS if tasks is None else tasks)
    task_list = [get_task(name) for name in names]
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
    scored = None
    if device is not None:
        scored = on_device(device, devices, accept_new_host_key, artifacts, settings)
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

        if scored is not None:
            texts = scored(results_store, progress)
        else:
            result = run_eval(artifacts, task_list, settings, results_store, progress)
    if scored is not None:
        report = device_text_document if as_json else device_text_table
        _print(report(texts, results_store.spec), as_json)
        return
    written = write_results(result, output) if output is not None else []
    if as_json:
        doc = eval_document(result, results_store.spec)
        print(json.dumps({**doc, "lm_eval_results": [str(p) for p in written]}, indent=2))
        return
    stdout_console().print(eval_summary(result, results_store.spec))
    for path in written:
        stdout_console().print(f"lm-eval results JSON: {path}")
