"""melt vs llama-bench on the local device, as `melt bench --reconcile` measures it.

Each round runs `melt bench --reconcile` once per framework (in-process llama.cpp and
llama-server, the order swapped every round): each run is followed on the device by
llama-bench of the same build at the run's settings and turn shape. The ratios
(melt / llama-bench, prefill and decode) are read back from the store as `melt report` shows
them (`report/reconcile.py`), and min / median / max over rounds are printed per framework.

    python benchmarks/reconcile_rounds.py --rounds 5 --threads 1
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from melt.report.reconcile import reconcile_rows
from melt.store import open_store

SRC = Path(__file__).resolve().parents[1] / "src"
FRAMEWORKS = ("llama.cpp", "llama-server")


def bench(store: Path, framework: str, threads: int, tokens: int) -> None:
    argv = [
        sys.executable, "-m", "melt", "bench", "--framework", framework,
        "--threads", str(threads), "--max-new-tokens", str(tokens), "--temperature", "0",
        "--conversations", "1", "--store", str(store), "--reconcile", "--json",
    ]  # fmt: skip
    subprocess.run(
        argv, check=True, stdout=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(SRC)}
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    args = parser.parse_args()
    ratios: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        store_path = Path(folder) / "melt.db"
        ran: list[str] = []
        for r in range(args.rounds):
            order = FRAMEWORKS if r % 2 == 0 else FRAMEWORKS[::-1]
            for framework in order:
                bench(store_path, framework, args.threads, args.max_new_tokens)
                ran.append(framework)
        store = open_store(str(store_path), create=False)  # read once every bench is done
        for run, framework in zip(sorted(r["id"] for r in store.list_runs(None)), ran, strict=True):
            for row in reconcile_rows(store, [run]):
                ratios.setdefault((framework, row["phase"]), []).append(row["ratio"])
                print(
                    f"run {run:2} {framework:12} {row['phase']:7} {row['test']:14} "
                    f"melt {row['melt_tok_per_s']:7.1f}  llama-bench "
                    f"{row['llama_bench_tok_per_s']:7.1f}  ratio {row['ratio']:.3f}"
                )
                if row["note"]:
                    print(f"       {row['note']}")
    print(f"threads {args.threads}, {args.rounds} rounds, framework order swapped each round")
    for (framework, phase), values in ratios.items():
        print(
            f"  {framework:12} melt/llama-bench {phase:7} ratio min/median/max: "
            f"{min(values):.3f} / {statistics.median(values):.3f} / {max(values):.3f}"
        )


if __name__ == "__main__":
    main()
