"""ONNX Runtime GenAI through melt, against a bare loop and against llama.cpp.

1. Overhead: in one process, alternate (order swapped every round) melt's ONNX Runtime
   GenAI engine and a bare loop written straight against `onnxruntime_genai` (append the
   prompt, then generate_next_token / get_next_tokens), on the same int4 export, prompt,
   greedy search and thread count; print the melt/bare decode ratio (min / median / max
   over rounds). Target: median ≥ 0.97 at 1 thread.
2. One table, same machine, same run: llama.cpp Q4_1 / Q4_0 / Q8_0 and ONNX Runtime GenAI
   int4 / fp32 (all from the same Q4_1 weights: the GGUF variants re-quantized from its F16
   expansion, the exports built from its exact F32 expansion) on decode tok/s, prefill
   tok/s, TTFT, peak RSS (VmHWM of a fresh process per variant), model size, wiki.utf8
   perplexity and KLD / top-1 agreement against llama.cpp's F32 expansion on the same
   windows.

    python benchmarks/ort_overhead.py --rounds 5 --threads 1
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from melt.accuracy.evaluate import EvalSettings, open_scorer
from melt.accuracy.perplexity import evaluate_text
from melt.config import RunSettings, SamplingSettings
from melt.frameworks import get_framework
from melt.frameworks.ort_genai.engine import OrtGenAIEngine, chat_template, import_og, load_model
from melt.frameworks.ort_genai.settings import OrtGenAISettings
from melt.metrics.turn import turn_metrics
from melt.models import Artifact
from melt.workloads import Conversation

MODEL = "smollm2-135m-instruct"
PROMPT = (
    "Here are my notes from this week's planning meeting. "
    + " ".join(
        f"Item {i}: the team discussed the release schedule, the test plan, the budget for "
        "new phones to test on, and who will write the user guide."
        for i in range(6)
    )
    + " Write a detailed, long summary of these notes with a section for each item."
)
GREEDY = SamplingSettings(temperature=0)
# (label, framework, variant): the table's rows; llama.cpp F32 is the KLD reference.
VARIANTS = (
    ("llama.cpp Q4_1", "llama.cpp", None),
    ("llama.cpp Q4_0", "llama.cpp", "q4_0"),
    ("llama.cpp Q8_0", "llama.cpp", "q8_0"),
    ("ORT GenAI int4", "onnxruntime-genai", "int4"),
    ("ORT GenAI fp32", "onnxruntime-genai", "fp32"),
)
REFERENCE = ("llama.cpp F32", "llama.cpp", "f32")


def variant(framework: str, quant: str | None) -> Artifact:
    return get_framework(framework).variant(MODEL, quant, lambda m: print(m, file=sys.stderr))


def settings(framework: str, threads: int, max_new: int) -> RunSettings:
    extra = {"engine": OrtGenAISettings()} if framework == "onnxruntime-genai" else {}
    return RunSettings(threads=threads, max_new_tokens=max_new, sampling=GREEDY, **extra)


@dataclass
class Timing:
    prefill_tok_per_s: float
    decode_tok_per_s: float
    ttft_s: float
    generated: int


class BareOrtLoop:
    """The least Python an ONNX Runtime GenAI turn can take: append the prompt, then one
    generate_next_token + get_next_tokens per token, a clock read after each."""

    def __init__(self, artifact: Artifact, threads: int, prompt: list[int]) -> None:
        self.og = import_og()
        self.model = load_model(artifact.path, threads, OrtGenAISettings())
        self.params = self.og.GeneratorParams(self.model)
        self.params.set_search_options(max_length=2048, do_sample=False)
        self.prompt = np.asarray(prompt, dtype=np.int32)

    def turn(self, n_tokens: int) -> Timing:
        generator = self.og.Generator(self.model, self.params)
        now = time.monotonic_ns
        submit = now()
        generator.append_tokens(self.prompt)
        prefill_done = now()
        stamps = []
        for _ in range(n_tokens):
            generator.generate_next_token()
            generator.get_next_tokens()
            stamps.append(now())
        return Timing(
            prefill_tok_per_s=len(self.prompt) / ((prefill_done - submit) / 1e9),
            decode_tok_per_s=(len(stamps) - 1) / ((stamps[-1] - stamps[0]) / 1e9),
            ttft_s=(stamps[0] - submit) / 1e9,
            generated=len(stamps),
        )


def melt_turn(engine: OrtGenAIEngine | object, conversation: Conversation) -> Timing:
    trace = next(engine.converse(conversation, 0))  # type: ignore[attr-defined]
    m = turn_metrics(trace)
    return Timing(m.prefill_tok_per_s, m.decode_tok_per_s, m.ttft_s, trace.generated_tokens)


def overhead(threads: int, rounds: int, max_new: int) -> None:
    artifact = variant("onnxruntime-genai", "int4")
    conversation = Conversation("bench", (PROMPT,))
    engine = get_framework("onnxruntime-genai").load(
        artifact, settings("onnxruntime-genai", threads, max_new)
    )
    rendered = chat_template(artifact.path).render([{"role": "user", "content": PROMPT}])
    bare = BareOrtLoop(artifact, threads, engine.tokenize(rendered))
    melt_turn(engine, conversation)  # warm both
    bare.turn(8)
    ratios, melt_rates, bare_rates = [], [], []
    for r in range(rounds):
        order = ("melt", "bare") if r % 2 == 0 else ("bare", "melt")
        got: dict[str, Timing] = {}
        for who in order:
            if who == "melt":
                got["melt"] = melt_turn(engine, conversation)
            else:
                got["bare"] = bare.turn(got["melt"].generated if "melt" in got else max_new)
        melt_rates.append(got["melt"].decode_tok_per_s)
        bare_rates.append(got["bare"].decode_tok_per_s)
        ratios.append(got["melt"].decode_tok_per_s / got["bare"].decode_tok_per_s)
    engine.close()
    print(
        f"overhead, {threads} thread(s), {rounds} rounds, int4, "
        f"{got['melt'].generated} tokens/turn (measured, time.monotonic_ns token stamps):"
    )
    print(
        f"  melt decode {statistics.median(melt_rates):.1f} tok/s, bare "
        f"{statistics.median(bare_rates):.1f} tok/s (medians); melt/bare ratio min "
        f"{min(ratios):.3f} median {statistics.median(ratios):.3f} max {max(ratios):.3f}"
    )


def one_variant(framework: str, quant: str | None, threads: int, rounds: int, max_new: int):
    """In a fresh process: speed medians and this process's peak RSS (VmHWM)."""
    artifact = variant(framework, quant)
    engine = get_framework(framework).load(artifact, settings(framework, threads, max_new))
    conversation = Conversation("bench", (PROMPT,))
    melt_turn(engine, conversation)
    timings = [melt_turn(engine, conversation) for _ in range(rounds)]
    engine.close()
    status = Path("/proc/self/status").read_text().splitlines()
    hwm_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    print(
        json.dumps(
            {
                "decode_tok_per_s": statistics.median(t.decode_tok_per_s for t in timings),
                "prefill_tok_per_s": statistics.median(t.prefill_tok_per_s for t in timings),
                "ttft_s": statistics.median(t.ttft_s for t in timings),
                "generated": timings[-1].generated,
                "peak_rss_bytes": hwm_kb * 1024,
                "size_bytes": artifact.size_bytes,
                "sha256": artifact.sha256,
            }
        )
    )


def accuracy(threads: int, window: int, budget: int) -> dict[str, tuple[float, float, float]]:
    """wiki.utf8 perplexity, KLD and top-1 vs llama.cpp F32 for every variant."""
    eval_settings = EvalSettings(threads=threads, ctx=window)
    artifacts = {label: variant(f, q) for label, f, q in (REFERENCE, *VARIANTS)}
    scorers = {a.sha256: open_scorer(a, eval_settings) for a in artifacts.values()}
    try:
        ref = artifacts[REFERENCE[0]].sha256
        ppl, div = evaluate_text(scorers, ref, window, budget)
    finally:
        for s in scorers.values():
            s.close()
    out = {}
    for label, a in artifacts.items():
        d = div.get(a.sha256)
        out[label] = (
            ppl[a.sha256].value,
            float("nan") if d is None else d.kld_nats_mean,
            float("nan") if d is None else d.top1_agreement,
        )
    return out


def table(threads: int, rounds: int, max_new: int, window: int, budget: int) -> None:
    rows = {}
    for label, framework, quant in VARIANTS:
        argv = [sys.executable, __file__, "--one", f"{framework}:{quant or ''}"]
        argv += ["--threads", str(threads), "--rounds", str(rounds), "--max-new", str(max_new)]
        done = subprocess.run(argv, capture_output=True, text=True, check=True)
        rows[label] = json.loads(done.stdout.strip().splitlines()[-1])
    scores = accuracy(threads, window, budget)
    print(
        f"\nframeworks, {threads} thread(s), prompt {PROMPT[:20]!r}… greedy, median of {rounds} "
        f"turns of up to {max_new} tokens (measured); peak RSS = VmHWM of a fresh process; "
        f"wiki.utf8: {budget} tokens in windows of {window}, second half scored as "
        "llama-perplexity does (255 of 512), "
        "KLD/top-1 vs llama.cpp F32 (the exact expansion of the bundled Q4_1)"
    )
    header = (
        "| variant | decode tok/s | prefill tok/s | TTFT s | peak RSS MiB | size MiB "
        "| wiki ppl | KLD nats/tok | top-1 |"
    )
    print(header)
    print("|" + "---|" * 9)
    for label, r in rows.items():
        p, k, t = scores[label]
        print(
            f"| {label} | {r['decode_tok_per_s']:.1f} | {r['prefill_tok_per_s']:.1f} "
            f"| {r['ttft_s']:.3f} | {r['peak_rss_bytes'] / 2**20:.0f} "
            f"| {r['size_bytes'] / 2**20:.1f} | {p:.3f} | {k:.4f} | {100 * t:.1f}% |"
        )
    p, _, _ = scores[REFERENCE[0]]
    print(f"| {REFERENCE[0]} (reference) | – | – | – | – | – | {p:.3f} | – | – |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-new", type=int, default=128)
    parser.add_argument("--ppl-window", type=int, default=512)
    parser.add_argument("--ppl-tokens", type=int, default=2048)
    parser.add_argument("--skip-table", action="store_true")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        framework, _, quant = args.one.partition(":")
        one_variant(framework, quant or None, args.threads, args.rounds, args.max_new)
        return
    overhead(args.threads, args.rounds, args.max_new)
    if not args.skip_table:
        table(args.threads, args.rounds, args.max_new, args.ppl_window, args.ppl_tokens)


if __name__ == "__main__":
    main()
