"""One `melt eval`: score model variants on tasks (and optionally wiki.utf8 perplexity and
KL divergence against the most precise variant), writing every score to the store as it is
produced.

Every input is checked (variants resolved, tasks loaded, items selected) before the first
model is evaluated, so a typo costs nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from melt.accuracy.perplexity import (
    DEFAULT_TOKEN_BUDGET,
    DEFAULT_WINDOW_TOKENS,
    TEXT_NAME,
    Divergence,
    Perplexity,
    evaluate_text,
)
from melt.accuracy.sampling import DEFAULT_SEED, select, selection_sha256
from melt.accuracy.scorer import DEFAULT_BATCH, DEFAULT_CTX, Scorer
from melt.accuracy.scoring import UNIT_FRACTION, UNIT_PERPLEXITY, Score, score
from melt.accuracy.tasks import Item, Loglikelihood, Task
from melt.errors import MeltError
from melt.frameworks.registry import DEFAULT, declaration, scoring_framework, scoring_names
from melt.models import Artifact
from melt.models.quant_types import precision_rank
from melt.store import Store
from melt.store.scores import add_score

log = logging.getLogger(__name__)

# Export precisions named like the GGUF types they match, for choosing the reference.
_PRECISION_ALIASES = {"fp32": "f32", "fp16": "f16"}

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class EvalSettings:
    threads: int
    ctx: int = DEFAULT_CTX
    batch: int = DEFAULT_BATCH
    limit: int | None = None
    seed: int = DEFAULT_SEED
    perplexity: bool = False
    ppl_window_tokens: int = DEFAULT_WINDOW_TOKENS
    ppl_tokens: int = DEFAULT_TOKEN_BUDGET


@dataclass(frozen=True, slots=True)
class TaskScores:
    """All metrics of one task on one variant, with what was scored and how fast."""

    task: Task
    items: tuple[Item, ...]
    available: int
    scores: tuple[Score, ...]
    results: tuple[tuple[Loglikelihood, ...], ...]  # per item, one per request
    duration_s: float

    @property
    def items_per_s(self) -> float:
        return len(self.items) / self.duration_s if self.duration_s > 0 else float("nan")


@dataclass(slots=True)
class VariantScores:
    artifact: Artifact
    tasks: list[TaskScores] = field(default_factory=list)
    perplexity: Perplexity | None = None
    divergence: Divergence | None = None


@dataclass(slots=True)
class EvalResult:
    settings: EvalSettings
    framework_version: str
    reference: Artifact | None
    variants: list[VariantScores]


def framework_of(artifact: Artifact) -> str:
    """The framework that scores the artifact: the registered one with a scorer for its
    format (frameworks/registry.py)."""
    found = scoring_framework(artifact.format)
    if found is None:
        raise MeltError(
            f"no framework scores {artifact.format} models like '{artifact.name}' "
            f"(frameworks that score: {scoring_names()})"
        )
    return found.name


def framework_version(artifacts: Sequence[Artifact] = ()) -> str:
    """The scoring frameworks' versions, joined with ' + ' when variants mix frameworks."""
    from melt.frameworks import get_framework

    names = dict.fromkeys(framework_of(a) for a in artifacts) or {DEFAULT: None}
    return " + ".join(get_framework(name).version() for name in names)


def open_scorer(artifact: Artifact, settings: EvalSettings) -> Scorer | Any:
    """The scorer its framework declares for the artifact (one interface for all)."""
    scorer = declaration(framework_of(artifact)).scorer_class()
    return scorer(artifact, threads=settings.threads, ctx=settings.ctx, batch=settings.batch)


def most_precise(artifacts: Sequence[Artifact]) -> Artifact:
    """The reference for deltas and KL divergence: the highest-precision quantization,
    the largest file among equals (an fp32 export ranks with F32)."""

    def rank(a: Artifact) -> tuple[int, int]:
        quant = _PRECISION_ALIASES.get(a.quant.lower(), a.quant)
        return (precision_rank(quant), -a.size_bytes)

    return min(artifacts, key=rank)


def score_items(
    scorer: Scorer, task: Task, items: Sequence[Item], available: int, progress: Progress
) -> TaskScores:
    start = time.perf_counter()
    results: list[tuple[Loglikelihood, ...]] = []
    for index, item in enumerate(items):
        results.append(tuple(scorer.loglikelihoods(item.requests)))
        progress(f"{scorer.artifact.quant} {task.name}", index + 1, len(items))
    duration = time.perf_counter() - start
    scores = tuple(score(items, results, metric, task.output_type) for metric in task.metrics)
    return TaskScores(task, tuple(items), available, scores, tuple(results), duration)


def _base_columns(artifact: Artifact, settings: EvalSettings, version: str) -> dict[str, Any]:
    return {
        "model_name": artifact.name,
        "model_sha256": artifact.sha256,
        "model_quant": artifact.quant,
        "model_path": str(artifact.path),
        "framework": framework_of(artifact),
        "framework_version": version,
        "settings": {"threads": settings.threads, "ctx": settings.ctx, "batch": settings.batch},
    }


def _store_task(store: Store, base: dict[str, Any], settings: EvalSettings, ts: TaskScores) -> None:
    for s in ts.scores:
        add_score(
            store,
            **base,
            task=ts.task.name,
            task_source=ts.task.source,
            metric=s.metric,
            unit=s.unit,
            value=s.value,
            stderr=s.stderr,
            n=s.n,
            item_limit=settings.limit,
            sample_seed=settings.seed if settings.limit else None,
            selection_sha256=selection_sha256(ts.items),
            num_fewshot=ts.task.num_fewshot,
            duration_s=ts.duration_s,
            items_per_s=ts.items_per_s,
        )


def store_text(
    store: Store,
    base: dict[str, Any],
    ppl: Perplexity,
    div: Divergence | None,
    task: str = TEXT_NAME,
) -> None:
    """The text's perplexity, and its divergence from the reference, as scores. `task`
    names where they were measured when not in melt's process (a device's runtime)."""
    common = {
        **base,
        "task": task,
        "task_source": f"exllamav2 {TEXT_NAME}, {ppl.windows} windows of {ppl.window_tokens} "
        "tokens, each scoring its second half as llama-perplexity does (255 of 512)",
        "num_fewshot": 0,
        "n": ppl.tokens_scored,
    }
    add_score(
        store,
        **common,
        metric="perplexity",
        unit=UNIT_PERPLEXITY,
        value=ppl.value,
        stderr=ppl.stderr,
    )
    if div is not None:
        add_score(
            store,
            **common,
            metric="kld",
            unit="nats/token",
            value=div.kld_nats_mean,
            stderr=div.kld_nats_stderr,
            reference_sha256=div.reference_sha256,
        )
        add_score(
            store,
            **common,
            metric="top1_agreement",
            unit=UNIT_FRACTION,
            value=div.top1_agreement,
            reference_sha256=div.reference_sha256,
        )


def run_eval(
    artifacts: Sequence[Artifact],
    tasks: Sequence[Task],
    settings: EvalSettings,
    store: Store,
    progress: Progress,
) -> EvalResult:
    selected = []
    for task in tasks:
        items = task.load()
        selected.append((task, select(items, settings.limit, settings.seed), len(items)))
    version = framework_version(artifacts)
    reference = most_precise(artifacts) if len(artifacts) > 1 else None
    variants = [VariantScores(a) for a in artifacts]
    for variant in variants:
        base = _base_columns(variant.artifact, settings, framework_version([variant.artifact]))
        with open_scorer(variant.artifact, settings) as scorer:
            for task, items, available in selected:
                task_scores = score_items(scorer, task, items, available, progress)
                variant.tasks.append(task_scores)
                _store_task(store, base, settings, task_scores)
    if settings.perplexity:
        _text_scores(variants, reference, settings, store, progress)
    return EvalResult(settings, version, reference, variants)


def _text_scores(
    variants: list[VariantScores],
    reference: Artifact | None,
    settings: EvalSettings,
    store: Store,
    progress: Progress,
) -> None:
    progress(f"{TEXT_NAME} perplexity", 0, 1)
    scorers: dict[str, Scorer] = {}
    try:
        for v in variants:
            scorers[v.artifact.sha256] = open_scorer(v.artifact, settings)
        perplexities, divergences = evaluate_text(
            scorers,
            None if reference is None else reference.sha256,
            settings.ppl_window_tokens,
            settings.ppl_tokens,
        )
    finally:
        for scorer in scorers.values():
            scorer.close()
    for v in variants:
        v.perplexity = perplexities[v.artifact.sha256]
        v.divergence = divergences.get(v.artifact.sha256)
        base = _base_columns(v.artifact, settings, framework_version([v.artifact]))
        store_text(store, base, v.perplexity, v.divergence)
    progress(f"{TEXT_NAME} perplexity", 1, 1)
