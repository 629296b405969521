"""What does melt cost on an accelerator? melt's llama-server run vs llama-bench, same GPU.

On one Vulkan device (lavapipe here: a CPU emulation of a GPU, so the absolute rates mean
nothing; the ratio is what melt costs), alternate, several rounds (order swapped each round):

* `melt bench --framework llama-server --gpu-layers all` on a one-turn workload (greedy,
  no warm-up turn stored), and
* the same build's `llama-bench -ngl 99` at matched settings: `-p` the prompt tokens melt's
  engine evaluated, `-n` the tokens it generated, same threads, batch and KV types, `-r 1`.

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

PROMPT = (
    "Explain step by step, at length, how a bicycle gear system works, why the ratios "
    "matter on hills, and how to keep the chain and cassette clean."
)


def melt_bench(tools: Path, store: Path, gpu_layers: str, args: argparse.Namespace) -> list[dict]:
    """One `melt bench` over llama-server; the experiment's cells from its --json output,
    each with the stored compute record of its run."""
    workload = store / "one-turn.json"
    workload.write_text(json.dumps([[PROMPT]]))
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
    report = json.loads(done.stdout)
    runs = open_store(str(store), create=False).runs_of_experiment(report["experiment_id"])
    compute = {r["id"]: r.get("compute") for r in runs}
    cells = report["cells"]
    for cell, run in zip(cells, sorted(compute), strict=True):
        cell["compute"] = compute[run]
    return cells


def median(cell: dict, key: str) -> float:
    return float(cell["aggregates"][key]["median"])


def llama_bench(
    tools: Path, model: Path, n_prompt: int, n_gen: int, args: argparse.Namespace
) -> dict:
    argv = [
        str(tools / "llama-bench"), "-m", str(model), "-ngl", "99", "-t", str(args.threads),
        "-p", str(n_prompt), "-n", str(n_gen), "-r", "1", "-o", "json",
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    rows = json.loads(done.stdout)
    by_kind = {("pp" if r["n_gen"] == 0 else "tg"): r for r in rows}
    for kind, asked in (("pp", n_prompt), ("tg", n_gen)):
        got = by_kind[kind]["n_prompt" if kind == "pp" else "n_gen"]
        if got != asked:  # never take the tool's count unchecked
            raise SystemExit(f"llama-bench ran {kind} {got}, asked {asked}")
    if not by_kind["tg"].get("gpu_info"):
        raise SystemExit("llama-bench reports no GPU (set GGML_VK_VISIBLE_DEVICES=0 for lavapipe)")
    return {k: float(v["avg_ts"]) for k, v in by_kind.items()} | {"gpu": by_kind["tg"]["gpu_info"]}


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
    last_cell: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            store = Path(tmp) / f"round{r}"
            store.mkdir()
            order = ["melt", "llama-bench"] if r % 2 == 0 else ["llama-bench", "melt"]
            seen: dict[str, Any] = {}
            for who in order:
                if who == "melt":
                    (seen["melt"],) = melt_bench(args.tools, store, "all", args)
                else:
                    # llama-bench is told what melt's engine evaluated and generated: the
                    # previous round's counts (the first round runs melt first)
                    cell = seen.get("melt", last_cell)
                    aggregates = cell["aggregates"]
                    n_prompt = int(aggregates["prompt_tokens_evaluated"] / aggregates["turns"])
                    n_gen = int(aggregates["generated_tokens"] / aggregates["turns"])
                    seen["llama-bench"] = llama_bench(args.tools, model, n_prompt, n_gen, args)
            last_cell = seen["melt"]
            m, b = seen["melt"], seen["llama-bench"]
            decode.append(median(m, "decode_tok_per_s") / b["tg"])
            prefill.append(median(m, "prefill_tok_per_s") / b["pp"])
            print(
                f"round {r + 1} ({' then '.join(order)}): melt decode "
                f"{median(m, 'decode_tok_per_s'):.2f} tok/s prefill "
                f"{median(m, 'prefill_tok_per_s'):.2f} tok/s [{m['compute']['label']}] | "
                f"llama-bench tg {b['tg']:.2f} pp {b['pp']:.2f} tok/s [{b['gpu']}]"
            )
        print(f"decode  melt/llama-bench: {spread(decode)}  (target median ≥ 0.97)")
        print(f"prefill melt/llama-bench: {spread(prefill)}")

        store = Path(tmp) / "table"
        store.mkdir()
        print(f"\n--gpu-layers {args.table_layers} (one run each, {args.threads} thread):")
        print(
            f"{'gpu layers':>10}  {'offload (engine)':<44} {'decode':>8} {'prefill':>8} {'TTFT':>8}"
        )
        for cell in melt_bench(args.tools, store, args.table_layers, args):
            compute = cell["compute"] or {}
            print(
                f"{cell['settings']['engine'].get('gpu_layers')!s:>10}  "
                f"{compute.get('label', 'not recorded'):<44} "
                f"{median(cell, 'decode_tok_per_s'):>8.2f} "
                f"{median(cell, 'prefill_tok_per_s'):>8.2f} "
                f"{median(cell, 'ttft_s'):>7.3f}s"
            )


if __name__ == "__main__":
    main()
