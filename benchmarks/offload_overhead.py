"""What does melt cost on an accelerator? melt's llama-server run vs llama-bench, same GPU.

On one Vulkan device (lavapipe here: a CPU emulation of a GPU, so the absolute rates mean
nothing; the ratio is what melt costs), alternate, several rounds (order swapped each round):

* `melt bench --framework llama-server --gpu-layers all` (greedy, one warm-up turn), whose
  measured turn on PROMPT is read from the store, and
* the same build's `llama-bench -ngl 99` at that turn's shape: prefill of the prompt tokens
  melt's engine evaluated after those it found in the server's cache, decode of the tokens it
  generated after the whole prompt (matched depth), same threads, `-r 1` (its counts checked
  against what it was asked).

and print the decode and prefill ratios melt/llama-bench, min/median/max over rounds
(target: median decode ratio ≥ 0.97). Then one table from one run:
`--gpu-layers 0,8,16,all` with decode, prefill and TTFT per value, each with the offload the
engine reported (melt's stored compute record), not the flag.

    GGML_VK_VISIBLE_DEVICES=0 python benchmarks/offload_overhead.py --tools DIR --rounds 5

`DIR` holds a Vulkan build's llama-server and llama-bench (`melt runtimes build --backend
vulkan`; `melt runtimes show` prints its directory).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from melt.models import resolve_model
from melt.store import open_store

WARMUP = "Name three colours of the rainbow."
PROMPT = (
    "Explain step by step, at length, how a bicycle gear system works, why the ratios "
    "matter on hills, and how to keep the chain and cassette clean."
)


def melt_bench(tools: Path, store: Path, gpu_layers: str, args: argparse.Namespace) -> list[dict]:
    """One `melt bench` over llama-server; per run (one per --gpu-layers value), the measured
    turn on PROMPT as stored (its conversation is the second: the first, WARMUP, is the
    warm-up turn and a measured turn that finds its prompt in the server's cache) with the
    run's stored compute record."""
    workload = store / "workload.json"
    workload.write_text(json.dumps([[WARMUP], [PROMPT]]))
    argv = [
        sys.executable, "-m", "melt", "bench", "--framework", "llama-server",
        "--server-binary", str(tools / "llama-server"), "--model", args.model,
        "--workload", str(workload), "--threads", str(args.threads),
        "--max-new-tokens", str(args.max_new_tokens), "--temperature", "0",
        "--warmup", "1", "--gpu-layers", gpu_layers, "--store", str(store), "--json",
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"melt bench failed ({done.returncode}): {done.stderr.strip()}")
    db = open_store(str(store), create=False)
    out = []
    for run in db.runs_of_experiment(json.loads(done.stdout)["experiment_id"]):
        (turn,) = [
            t for t in db.turns(run["id"]) if not t["warmup"] and t["conversation_index"] == 1
        ]
        out.append({"run": run, "turn": turn})
    return out


def llama_bench(tools: Path, model: Path, turn: dict, args: argparse.Namespace) -> dict:
    """llama-bench -ngl 99 at the measured turn's shape: the prefill of the prompt tokens
    melt's engine evaluated (`-p`) after those it found in the cache (`-d`), and the decode
    of the tokens it generated (`-n`) after the whole prompt (the second `-d`), as melt's
    decode ran; each row's counts checked against what was asked."""
    n_prompt, reused = turn["prompt_tokens_evaluated"], turn["prompt_tokens_reused"]
    n_gen, whole = turn["generated_tokens"], reused + turn["prompt_tokens_evaluated"]
    argv = [
        str(tools / "llama-bench"), "-m", str(model), "-ngl", "99", "-t", str(args.threads),
        "-p", str(n_prompt), "-n", str(n_gen), "-d", f"{reused},{whole}", "-r", "1",
        "-o", "json",
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    rows = {(r["n_prompt"], r["n_gen"], r["n_depth"]): r for r in json.loads(done.stdout)}
    pp, tg = rows.get((n_prompt, 0, reused)), rows.get((0, n_gen, whole))
    if pp is None or tg is None:  # never take the tool's figures for another shape
        raise SystemExit(f"llama-bench ran {sorted(rows)}, asked pp{n_prompt} @ d{reused} "
                         f"and tg{n_gen} @ d{whole}")  # fmt: skip
    if not tg.get("gpu_info"):
        raise SystemExit("llama-bench reports no GPU (set GGML_VK_VISIBLE_DEVICES=0 for lavapipe)")
    return {
        "pp": float(pp["avg_ts"]),
        "tg": float(tg["avg_ts"]),
        "gpu": tg["gpu_info"],
        "shape": f"pp{n_prompt} @ d{reused}, tg{n_gen} @ d{whole}",
    }


def spread(values: Sequence[float]) -> str:
    return f"min {min(values):.3f}  median {statistics.median(values):.3f}  max {max(values):.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tools", type=Path, required=True, help="Vulkan build's bin dir")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--table-layers", default="0,8,16,all")
    args = parser.parse_args()
    if os.environ.get("GGML_VK_VISIBLE_DEVICES") is None:
        print("note: GGML_VK_VISIBLE_DEVICES unset; ggml hides CPU-type Vulkan devices (lavapipe)")
    model = resolve_model(args.model).path
    decode: list[float] = []
    prefill: list[float] = []
    last_turn: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            store = Path(tmp) / f"round{r}"
            store.mkdir()
            order = ["melt", "llama-bench"] if r % 2 == 0 else ["llama-bench", "melt"]
            seen: dict[str, Any] = {}
            for who in order:
                if who == "melt":
                    (seen["melt"],) = melt_bench(args.tools, store, "all", args)
                    last_turn = seen["melt"]["turn"]
                else:
                    # told the shape of melt's measured turn: this round's when melt ran
                    # first, else the previous round's (the same prompt, so the same shape)
                    seen["llama-bench"] = llama_bench(args.tools, model, last_turn, args)
            turn, bench = seen["melt"]["turn"], seen["llama-bench"]
            decode.append(turn["decode_tok_per_s"] / bench["tg"])
            prefill.append(turn["prefill_tok_per_s"] / bench["pp"])
            print(
                f"round {r + 1} ({' then '.join(order)}): melt decode "
                f"{turn['decode_tok_per_s']:.2f} prefill {turn['prefill_tok_per_s']:.2f} tok/s "
                f"[{seen['melt']['run']['compute']['label']}] | llama-bench {bench['shape']}: "
                f"tg {bench['tg']:.2f} pp {bench['pp']:.2f} tok/s [{bench['gpu']}]"
            )
        print(f"decode  melt/llama-bench: {spread(decode)}  (target median ≥ 0.97)")
        print(f"prefill melt/llama-bench: {spread(prefill)}")

        store = Path(tmp) / "table"
        store.mkdir()
        print(f"\n--gpu-layers {args.table_layers} (one run each, {args.threads} thread):")
        print(
            f"{'gpu layers':>10}  {'offload (engine)':<44} {'decode':>8} {'prefill':>8} {'TTFT':>8}"
        )
        for measured in melt_bench(args.tools, store, args.table_layers, args):
            run, turn = measured["run"], measured["turn"]
            compute = run.get("compute") or {}
            print(
                f"{run['settings']['engine'].get('gpu_layers')!s:>10}  "
                f"{compute.get('label', 'not recorded'):<44} "
                f"{turn['decode_tok_per_s']:>8.2f} {turn['prefill_tok_per_s']:>8.2f} "
                f"{turn['ttft_s']:>7.3f}s"
            )


if __name__ == "__main__":
    main()
