"""Which probe rates can the sampler keep? The figures behind `sampler.MAX_RATE_HZ`.

For each root (a copy of a sysfs fixture tree with this machine's /proc linked in, as the
CLI tests do, and this machine's `/`), run the sampler with every probe `detect(root)` finds
for `--seconds` at each rate, and print the rate achieved, the share of deadlines dropped
and the sampler thread's CPU time per second of sampling (its share of one core), with the
CPU cost of one tick. A rate is kept when almost no deadline is
dropped; it is affordable when the thread's share of a core stays well below one.

    python benchmarks/sampler_rate.py --seconds 3 --rates 50,100,200,500,1000
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from melt.probes import detect
from melt.probes.sampler import MAX_RATE_HZ, Sampler

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "sysfs"


def measure(root: Path, rate_hz: float, seconds: float) -> dict[str, float]:
    found = detect(root)
    sampler = Sampler(found.probes, rate_hz=min(rate_hz, MAX_RATE_HZ))
    sampler.rate_hz, sampler.period_ns = rate_hz, round(1e9 / rate_hz)  # past the cap on purpose
    sampler.start()
    time.sleep(seconds)  # the measured interval
    stats = sampler.stop()
    deadlines = stats.ticks - 2 + stats.dropped
    return {
        "probes": len(found.probes),
        "achieved_hz": stats.achieved_hz or 0.0,
        "dropped_share": stats.dropped / deadlines if deadlines else 0.0,
        "cpu_share": stats.cpu_s_per_s or 0.0,
        "cpu_ms_per_tick": 1e3 * stats.cpu_s / max(stats.ticks - 2, 1),
    }


def fixture_root(name: str, into: Path) -> Path:
    root = into / name
    shutil.copytree(FIXTURES / name, root)
    (root / "proc").symlink_to("/proc")
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--rates", default="50,100,200,500,1000")
    parser.add_argument("--fixture", default="jetson_orin_nano", help="a tests/fixtures/sysfs tree")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    print(f"{'root':32} probes  target_hz  achieved_hz  dropped  cpu/core  ms/tick")
    with tempfile.TemporaryDirectory() as tmp:
        for root in (fixture_root(args.fixture, Path(tmp)), Path("/")):
            for rate in rates:
                m = measure(root, rate, args.seconds)
                print(
                    f"{root.name or '/':32} {m['probes']:6.0f} {rate:10.0f} "
                    f"{m['achieved_hz']:12.1f} {100 * m['dropped_share']:7.1f}% "
                    f"{100 * m['cpu_share']:8.1f}% {m['cpu_ms_per_tick']:8.3f}"
                )


if __name__ == "__main__":
    main()
