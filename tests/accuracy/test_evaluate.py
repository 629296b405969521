"""Whole evaluations on the real bundled model: tasks whose answer is known by construction,
a real ARC-Easy sample, and wiki.utf8 perplexity / divergence."""

import random
from collections.abc import Iterator

import pytest

from melt.accuracy.evaluate import EvalSettings, most_precise, run_eval, score_items
from melt.accuracy.perplexity import evaluate_text
from melt.accuracy.sampling import select
from melt.accuracy.scorer import Scorer
from melt.accuracy.tasks import ACC, ACC_NORM, Item, Task, get_task, multiple_choice
from melt.models import Artifact
from melt.store import open_store
from melt.store.scores import scores_for

WORDS = [
    "apple",
    "river",
    "stone",
    "cloud",
    "window",
    "garden",
    "pencil",
    "silver",
    "mountain",
    "bridge",
    "candle",
    "forest",
    "engine",
    "planet",
    "rabbit",
    "yellow",
    "doctor",
    "blanket",
    "thunder",
    "island",
    "ladder",
    "violin",
    "copper",
    "marble",
]


def copy_items(count: int, seed: int = 0) -> list[Item]:
    """The context shows a random word sequence, then starts repeating it; the right choice
    repeats the rest verbatim, the others are other random words of the same length. The
    gold choice moves around so an evaluator that always picks one position fails."""
    rng = random.Random(seed)
    items = []
    for i in range(count):
        words = rng.sample(WORDS, 10)
        context = "Repeat after me: " + " ".join(words) + ". Again: " + " ".join(words[:5])
        right = " ".join(words[5:]) + "."
        wrong = [" ".join(rng.sample(WORDS, 5)) + "." for _ in range(3)]
        gold = i % 4
        choices = [*wrong[:gold], right, *wrong[gold:]]
        items.append(multiple_choice(i, context, choices, gold))
    return items


@pytest.fixture(scope="module")
def scorer(bundled: Artifact) -> Iterator[Scorer]:
    with Scorer(bundled, threads=1, ctx=2048) as s:
        yield s


def test_choice_repeating_the_context_always_wins(scorer: Scorer) -> None:
    items = copy_items(8)
    task = Task("copy", "hand-made", lambda: items, (ACC, ACC_NORM))
    result = score_items(scorer, task, items, len(items), lambda *_: None)
    assert [(s.metric, s.value, s.n) for s in result.scores] == [(ACC, 1.0, 8), (ACC_NORM, 1.0, 8)]
    assert result.items_per_s > 0


def test_wrong_gold_scores_zero(scorer: Scorer) -> None:
    items = [
        multiple_choice(i.doc_id, i.requests[0].context, list(i.choices), (i.gold + 1) % 4)
        for i in copy_items(4, seed=1)
    ]
    task = Task("copy-wrong", "hand-made", lambda: items)
    assert score_items(scorer, task, items, 4, lambda *_: None).scores[0].value == 0.0


def test_arc_easy_sample_is_well_above_chance(scorer: Scorer) -> None:
    task = get_task("arc_easy")
    items = select(task.load(), 100, seed=1234)
    result = score_items(scorer, task, items, 2376, lambda *_: None)
    acc = result.scores[0]
    # Chance is ~25% (most items have 4 choices); SmolLM2-135M scores ~45-55%.
    assert acc.n == 100
    assert acc.value >= 0.38
    assert 0.02 < acc.stderr < 0.08


def test_divergence_of_a_model_from_itself_is_zero(bundled: Artifact, scorer: Scorer) -> None:
    with Scorer(bundled, threads=1, ctx=2048) as twin:
        ppl, div = evaluate_text({"ref": scorer, "twin": twin}, "ref", 256, 512)
    assert ppl["ref"].tokens_scored == 2 * 128
    assert 3 < ppl["ref"].value < 60
    assert ppl["twin"].value == pytest.approx(ppl["ref"].value, rel=1e-4)
    assert div["twin"].kld_nats_mean == pytest.approx(0.0, abs=1e-5)
    assert div["twin"].top1_agreement == 1.0


def test_run_eval_stores_scores_by_sha256(bundled: Artifact, tmp_path) -> None:
    items = copy_items(4)
    task = Task("copy", "hand-made", lambda: items, (ACC, ACC_NORM))
    store = open_store(str(tmp_path / "melt.db"))
    settings = EvalSettings(threads=1, ctx=1024, limit=3, seed=5)
    result = run_eval([bundled], [task], settings, store, lambda *_: None)
    assert result.reference is None
    assert [len(ts.items) for ts in result.variants[0].tasks] == [3]
    rows = scores_for(store, bundled.sha256)
    assert [(r["task"], r["metric"], r["value"], r["n"]) for r in rows] == [
        ("copy", ACC, 1.0, 3),
        ("copy", ACC_NORM, 1.0, 3),
    ]
    assert rows[0]["item_limit"] == 3 and rows[0]["sample_seed"] == 5
    assert rows[0]["model_quant"] == bundled.quant


def test_reference_is_the_most_precise_variant(bundled: Artifact) -> None:
    from dataclasses import replace

    f16 = replace(bundled, quant="F16", sha256="f" * 64)
    q8 = replace(bundled, quant="Q8_0", sha256="8" * 64)
    assert most_precise([bundled, q8, f16]) is f16
