"""How much does melt's runner cost compared with a bare llama.cpp loop?

In one process, for each thread count, alternate (order swapped every round) melt's
llama.cpp engine and a bare loop written straight against llama.cpp's C API, on the same
model, prompt, sampler chain and seed, and print melt/bare ratios of prefill and decode
tok/s (min / median / max over rounds). Target: median decode ratio ≥ 0.97 at 1 thread.

With `--llama-bench PATH`, also run llama.cpp's own `llama-bench` with the same prompt
length, generation length and threads, and print its pp/tg tok/s beside melt's (llama-bench
decodes without sampling, so it is an upper bound for any chat loop).

    python benchmarks/decode_overhead.py --rounds 5 --threads 1,2
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
from collections.abc import Callable
from functools import partial

import llama_cpp as llama

from melt.config import RunSettings, SamplingSettings
from melt.frameworks.chat_template import ChatTemplate
from melt.frameworks.llamacpp.engine import LlamaCppEngine, _sampler_chain
from melt.metrics.turn import turn_metrics
from melt.models import resolve_model
from melt.workloads import Conversation

PROMPT = (
    "Here are my notes from this week's planning meeting. "
    + " ".join(
        f"Item {i}: the team discussed the release schedule, the test plan, the budget for "
        "new phones to test on, and who will write the user guide."
        for i in range(12)
    )
    + " Write a detailed, long summary of these notes with a section for each item."
)


class BareLoop:
    """The least Python a llama.cpp chat turn can take: decode the prompt, then
    sample → decode until end-of-generation or the token budget, timing only the ends."""

    def __init__(self, path: str, settings: RunSettings, template: ChatTemplate) -> None:
        mparams = llama.llama_model_default_params()
        self.model = llama.llama_model_load_from_file(path.encode(), mparams)
        cparams = llama.llama_context_default_params()
        cparams.n_ctx = settings.ctx
        cparams.n_batch = cparams.n_ubatch = settings.batch
        cparams.n_threads = cparams.n_threads_batch = settings.threads
        self.ctx = llama.llama_init_from_model(self.model, cparams)
        self.vocab = llama.llama_model_get_vocab(self.model)
        self.sampler = _sampler_chain(settings.sampling, llama.llama_vocab_n_tokens(self.vocab))
        self.max_new = settings.max_new_tokens
        text = template.render([{"role": "user", "content": PROMPT}]).encode()
        buf = (llama.llama_token * (len(text) + 8))()
        n = llama.llama_tokenize(self.vocab, text, len(text), buf, len(buf), False, True)
        self.prompt = buf[:n]

    def turn(self) -> tuple[float, float, int]:
        """(prefill tok/s, decode tok/s, tokens generated) for one fresh turn."""
        llama.llama_memory_clear(llama.llama_get_memory(self.ctx), True)
        llama.llama_sampler_reset(self.sampler)
        arr = (llama.llama_token * len(self.prompt))(*self.prompt)
        t0 = time.monotonic_ns()
        llama.llama_decode(self.ctx, llama.llama_batch_get_one(arr, len(self.prompt)))
        llama.llama_synchronize(self.ctx)
        t1 = time.monotonic_ns()
        tok = (llama.llama_token * 1)()
        batch = llama.llama_batch_get_one(tok, 1)
        n = 0
        first = last = 0
        while True:
            token = llama.llama_sampler_sample(self.sampler, self.ctx, -1)
            n += 1
            if n == 1:
                first = time.monotonic_ns()
            if llama.llama_vocab_is_eog(self.vocab, token) or n >= self.max_new:
                last = time.monotonic_ns()
                break
            tok[0] = token
            llama.llama_decode(self.ctx, batch)
        return len(self.prompt) / ((t1 - t0) / 1e9), (n - 1) / ((last - first) / 1e9), n

    def close(self) -> None:
        llama.llama_sampler_free(self.sampler)
        llama.llama_free(self.ctx)
        llama.llama_model_free(self.model)


def melt_turn(engine: LlamaCppEngine) -> tuple[float, float, int]:
    trace = next(iter(engine.converse(Conversation("bench", (PROMPT,)), 0)))
    m = turn_metrics(trace)
    return m.prefill_tok_per_s or 0.0, m.decode_tok_per_s or 0.0, trace.generated_tokens


def spread(values: list[float]) -> str:
    return f"{min(values):.3f} / {statistics.median(values):.3f} / {max(values):.3f}"


def run_llama_bench(
    path: str, model: str, prompt_tokens: int, gen: int, settings: RunSettings
) -> tuple[float, float]:
    """One llama-bench repetition, matched to melt's settings (threads, flash attention,
    KV types, poll, batch): (pp tok/s from an empty cache, tg tok/s at a depth of
    `prompt_tokens`), the depth where a chat turn generates; from an empty cache attention is
    cheaper and tg would flatter llama.cpp."""
    knobs = settings.engine
    cmd = [
        path, "-m", model, "-p", str(prompt_tokens), "-n", str(gen),
        "-d", f"0,{prompt_tokens}", "-t", str(settings.threads), "-r", "1",
        "-b", str(settings.batch), "-ub", str(settings.batch),
        "-fa", knobs.flash_attn, "-ctk", knobs.cache_type_k, "-ctv", knobs.cache_type_v,
        "--poll", str(knobs.poll), "-o", "json",
    ]  # fmt: skip
    out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    pp = tg = 0.0
    for row in out:
        depth = row.get("n_depth", 0)
        if row["n_prompt"] and depth == 0:
            pp = row["avg_ts"]
        elif row["n_gen"] and depth == prompt_tokens:
            tg = row["avg_ts"]
    return pp, tg


def llama_bench_turn(
    path: str, model: str, prompt_tokens: int, gen: int, settings: RunSettings
) -> tuple[float, float, int]:
    return (*run_llama_bench(path, model, prompt_tokens, gen, settings), gen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--llama-bench", metavar="PATH")
    args = parser.parse_args()
    artifact = resolve_model(args.model)
    print(
        f"model {artifact.name} {artifact.quant} sha256 {artifact.sha256[:12]}, "
        f"llama-cpp-python {llama.__version__}, {args.rounds} rounds, "
        f"max {args.max_new_tokens} new tokens, greedy"
    )
    for threads in (int(t) for t in args.threads.split(",")):
        settings = RunSettings(
            threads=threads,
            max_new_tokens=args.max_new_tokens,
            sampling=SamplingSettings(temperature=0.0),
        )
        engine = LlamaCppEngine(artifact, settings)
        bare = BareLoop(str(artifact.path), settings, engine._template)
        contestants: dict[str, Callable[[], tuple[float, float, int]]] = {
            "melt": partial(melt_turn, engine),
            "bare": bare.turn,
        }
        if args.llama_bench:
            contestants["llama-bench"] = partial(
                llama_bench_turn, args.llama_bench, str(artifact.path), len(bare.prompt),
                args.max_new_tokens, settings,
            )  # fmt: skip
        names = list(contestants)
        rows: list[dict[str, tuple[float, float, int]]] = []
        for r in range(args.rounds):
            order = names[r % len(names) :] + names[: r % len(names)]  # rotate each round
            rows.append({name: contestants[name]() for name in order})
        print(f"\nthreads {threads}: prompt {len(bare.prompt)} tokens, order rotated each round")
        for i, row in enumerate(rows):
            print(
                f"  round {i}: "
                + " | ".join(
                    f"{name} prefill {v[0]:7.1f} decode {v[1]:6.1f} tok/s ({v[2]} tok)"
                    for name, v in row.items()
                )
            )
        for other in names[1:]:
            for label, k in (("prefill", 0), ("decode ", 1)):
                ratios = [row["melt"][k] / row[other][k] for row in rows]
                print(f"  melt/{other} {label} ratio min/median/max: {spread(ratios)}")
        if args.llama_bench:
            print(
                f"  (llama-bench: pp{len(bare.prompt)} from an empty cache, "
                f"tg{args.max_new_tokens} at depth {len(bare.prompt)}, flash-attn "
                f"{settings.engine.flash_attn}, poll {settings.engine.poll}, -r 1 per round)"
            )
        bare.close()
        engine.close()


if __name__ == "__main__":
    main()
