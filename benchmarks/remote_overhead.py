"""What does running on a device over SSH cost, against melt's own process?

Starts a private sshd on 127.0.0.1 (tests/devices/ssh_server.py) whose "device" is a bare
venv holding only llama-cpp-python, then alternates (order swapped every round) `melt bench`
on the local device in-process and on the loopback SSH device, same cell (bundled model,
1 thread, greedy, one workload), and prints:

- the remote/local ratio of each run's median decode and prefill tok/s (min/median/max over
  rounds); target: median decode ratio ≥ 0.98 at 1 thread;
- the bytes pushed to the device on the first and the second remote run (the second must be
  ~0: the model is kept by sha256 and the runner by content hash);
- the clock-offset uncertainty of every remote run; target ≤ 1 ms on loopback.

    python benchmarks/remote_overhead.py --rounds 5
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "devices"))

from ssh_server import device_python, start_sshd  # noqa: E402

WORKLOAD = [
    [
        "Explain in detail how a bicycle gear system works.",
        "Now explain how to maintain it over a year of daily use.",
    ]
]


def _bench(store: Path, workload: Path, args: argparse.Namespace, device: list[str]) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "melt",
        "bench",
        "--store",
        str(store),
        "--workload",
        str(workload),
        "--threads",
        str(args.threads),
        "--max-new-tokens",
        str(args.max_new_tokens),
        "--temperature",
        "0",
        "--warmup",
        "1",
        *device,
        "--json",
    ]
    subprocess.run(
        cmd,
        check=True,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    with sqlite3.connect(store) as conn:
        run_id, settings = conn.execute(
            "select id, settings from runs order by id desc limit 1"
        ).fetchone()
        rows = conn.execute(
            "select decode_tok_per_s, prefill_tok_per_s from turns where run_id = ? and warmup = 0",
            (run_id,),
        ).fetchall()
    return {
        "decode": statistics.median(r[0] for r in rows if r[0]),
        "prefill": statistics.median(r[1] for r in rows if r[1]),
        "device_run": json.loads(settings)["device_run"],
    }


def _spread(values: list[float]) -> str:
    return f"min {min(values):.3f}  median {statistics.median(values):.3f}  max {max(values):.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-new-tokens", type=int, default=96)
    args = parser.parse_args()
    cache = Path.home() / ".cache" / "melt-ci"
    python = device_python(cache)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        sshd = start_sshd(tmp / "sshd")
        try:
            known = tmp / "known_hosts"
            known.write_text(sshd.host_key_line())
            inventory = tmp / "devices.yaml"
            inventory.write_text(
                json.dumps(
                    {
                        "devices": [
                            {
                                "name": "loopback",
                                "transport": "ssh",
                                "host": "127.0.0.1",
                                "port": sshd.port,
                                "identity_file": str(sshd.client_key),
                                "known_hosts": str(known),
                                "python": str(python),
                                "workdir": str(tmp / "workdir"),
                            }
                        ]
                    }
                )
            )
            workload = tmp / "w.json"
            workload.write_text(json.dumps(WORKLOAD))
            store = tmp / "melt.db"
            remote_args = ["--device", "loopback", "--devices", str(inventory)]
            ratios: dict[str, list[float]] = {"decode": [], "prefill": []}
            pushed: list[int] = []
            uncertainty_ms: list[float] = []
            for round_index in range(args.rounds):
                order = [("local", []), ("remote", remote_args)]
                if round_index % 2:
                    order.reverse()
                got = {name: _bench(store, workload, args, flags) for name, flags in order}
                for key in ratios:
                    ratios[key].append(got["remote"][key] / got["local"][key])
                run = got["remote"]["device_run"]
                pushed.append(run["deploy"]["bytes_pushed"])
                uncertainty_ms.append(run["clock_offset"]["uncertainty_ns"] / 1e6)
                print(
                    f"round {round_index + 1}: decode local {got['local']['decode']:.1f} "
                    f"remote {got['remote']['decode']:.1f} tok/s; prefill local "
                    f"{got['local']['prefill']:.1f} remote {got['remote']['prefill']:.1f} tok/s",
                    flush=True,
                )
        finally:
            sshd.stop()
    print(f"remote/local decode tok/s:  {_spread(ratios['decode'])}  (target median ≥ 0.98)")
    print(f"remote/local prefill tok/s: {_spread(ratios['prefill'])}")
    second = f"{pushed[1]:,}" if len(pushed) > 1 else "n/a (one round)"
    print(f"bytes pushed: first remote run {pushed[0]:,}, second {second}")
    print(f"clock offset uncertainty: {_spread(uncertainty_ms)} ms  (target ≤ 1 ms)")


if __name__ == "__main__":
    main()
