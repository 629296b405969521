"""The `melt eval` table: one row per variant, one column per task metric as
score ± bootstrap stderr (fractions in percent, perplexities as ratios), with the change
against the most precise variant (in percentage points, or in perplexity) coloured by
whether it is better or worse for that metric; wiki.utf8 perplexity, KL divergence and top-1
agreement when measured."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from melt.accuracy.evaluate import EvalResult, VariantScores
from melt.accuracy.scoring import UNIT_FRACTION, UNIT_PERPLEXITY, Score
from melt.report.units import fmt_bytes

TITLE = "accuracy, % ± bootstrap stderr (Δ vs reference, points)"
PERPLEXITY_NOTE = "perplexity: exp(−mean item log-likelihood) ± stderr, lower is better"


def _scale(score: Score) -> tuple[float, str]:
    """Fractions are shown in percent with one decimal, other units as they are with two."""
    return (100.0, ".1f") if score.unit == UNIT_FRACTION else (1.0, ".2f")


def task_cell(
    variant: VariantScores, reference: VariantScores | None, key: tuple[str, str]
) -> Text:
    """`value ± stderr`, and `(Δ)` against the reference: green when better, red when worse,
    by the metric's own direction (lower perplexity is better)."""
    score = _score(variant, key)
    if score is None:
        return Text("–")
    factor, digits = _scale(score)
    text = Text(f"{factor * score.value:{digits}} ± {factor * score.stderr:{digits}}")
    ref = None if reference is None or reference is variant else _score(reference, key)
    if ref is not None:
        delta = score.value - ref.value
        gain = delta if score.higher_is_better else -delta
        style = "green" if gain > 0 else "red" if gain < 0 else ""
        text.append(" ")
        text.append(f"({factor * delta:+{digits}})", style=style)
    return text


def _score(variant: VariantScores, key: tuple[str, str]) -> Score | None:
    for ts in variant.tasks:
        if ts.task.name == key[0]:
            for s in ts.scores:
                if s.metric == key[1]:
                    return s
    return None


def eval_summary(result: EvalResult, store: str) -> Group:
    reference = next(
        (v for v in result.variants if result.reference and v.artifact is result.reference), None
    )
    first = [(ts.task.name, s) for ts in result.variants[0].tasks for s in ts.scores]
    keys = [(task, s.metric) for task, s in first]
    table = Table(title=TITLE, title_justify="left")
    table.add_column("variant")
    table.add_column("size", justify="right")
    for task, metric in keys:
        table.add_column(f"{task} {metric}", justify="right")
    with_text = result.settings.perplexity
    if with_text:
        table.add_column("wiki.utf8 ppl", justify="right")
        table.add_column("KLD nats/tok", justify="right")
        table.add_column("top-1 agree", justify="right")
    table.add_column("items/s", justify="right")
    for v in result.variants:
        kind = "" if v.artifact.format == "gguf" else f"{v.artifact.format} "
        label = f"{v.artifact.name} {kind}{v.artifact.quant}" + (" (ref)" if v is reference else "")
        row: list[str | Text] = [label, fmt_bytes(v.artifact.size_bytes)]
        row += [task_cell(v, reference, key) for key in keys]
        if with_text:
            ppl, div = v.perplexity, v.divergence
            row.append("–" if ppl is None else f"{ppl.value:.2f} ± {ppl.stderr:.2f}")
            row.append(
                "–" if div is None else f"{div.kld_nats_mean:.4f} ± {div.kld_nats_stderr:.4f}"
            )
            row.append("–" if div is None else f"{100 * div.top1_agreement:.1f}%")
        items = sum(len(ts.items) for ts in v.tasks)
        seconds = sum(ts.duration_s for ts in v.tasks)
        row.append(f"{items / seconds:.2f}" if seconds > 0 else "–")
        table.add_row(*row)
    s = result.settings
    lines = [f"{result.framework_version}, threads {s.threads}, ctx {s.ctx}"]
    for ts in result.variants[0].tasks:
        sample = (
            f"{len(ts.items)} of {ts.available} items (seed {s.seed})"
            if len(ts.items) < ts.available
            else f"all {ts.available} items"
        )
        lines.append(f"{ts.task.name}: {ts.task.source}; {sample}, {ts.task.num_fewshot}-shot")
    if any(s.unit == UNIT_PERPLEXITY for _, s in first):
        lines.append(PERPLEXITY_NOTE)
    if with_text:
        ppl = result.variants[0].perplexity
        if ppl is not None:
            lines.append(
                f"wiki.utf8 (exllamav2): {ppl.tokens_scored} tokens scored in {ppl.windows} "
                f"windows of {ppl.window_tokens}; KLD and top-1 against the reference"
            )
    footer = Text("\n".join(lines) + f"\nstored in {store}")
    return Group(table, footer)


def eval_document(result: EvalResult, store: str) -> dict[str, Any]:
    """Everything the `melt eval` table shows, as one JSON-able document."""
    return {
        "store": store,
        "framework_version": result.framework_version,
        "settings": asdict(result.settings),
        "reference_sha256": None if result.reference is None else result.reference.sha256,
        "variants": [
            {
                "model": v.artifact.name,
                "quant": v.artifact.quant,
                "sha256": v.artifact.sha256,
                "size_bytes": v.artifact.size_bytes,
                "tasks": [
                    {
                        "task": ts.task.name,
                        "items": len(ts.items),
                        "available": ts.available,
                        "duration_s": ts.duration_s,
                        "scores": [asdict(s) for s in ts.scores],
                    }
                    for ts in v.tasks
                ],
                "perplexity": None if v.perplexity is None else asdict(v.perplexity),
                "divergence": None if v.divergence is None else asdict(v.divergence),
            }
            for v in result.variants
        ],
    }
