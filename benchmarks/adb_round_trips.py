"""Why the ADB transport batches: one `read_many` against one `read_text` per file, and the
on-device sampler's achieved tick rate against its target, through the real adb server to the
fake phone (tests/fixtures/adb/fake_adbd.py) on this machine.

Prints, over several alternating rounds: the median shell round trip (`run(["true"])`), the
time of reading N sysfs files one by one vs in one `read_many` (their ratio), and the
sampler's ticks per second at the requested rate. On a real phone over USB the round trip is
different (adbd, USB latency), but the ratio between one and N round trips is what matters.

    python benchmarks/adb_round_trips.py --rounds 5 --rate 10
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fixtures.adb.fake_adbd import make_sandbox
from tests.fixtures.adb.harness import AdbServer, FakePhone

from melt.devices.adb import AdbDevice
from melt.devices.android_sampler import AndroidSampler
from melt.probes.channels import ProbePlan
from melt.runners.android_probes import detect_phone_probes


def timed(fn: object) -> float:
    start = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--rate", type=float, default=10.0, help="sampler target, Hz")
    parser.add_argument("--seconds", type=float, default=3.0, help="sampler run per round")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = AdbServer(Path(tmp) / "home")
        phone = FakePhone(make_sandbox(Path(tmp) / "phone"))
        try:
            server.adb("connect", phone.serial)
            server.wait_state(phone.serial, ("device",))
            dev = AdbDevice(phone.serial, adb_server_port=server.port)
            found = detect_phone_probes(dev, {})
            plan = sum((p.plan() for p in found.probes), ProbePlan())  # type: ignore[attr-defined]
            paths = plan.files()
            trips, singles, batched, rates = [], [], [], []
            for _ in range(args.rounds):
                trips.append(timed(lambda: dev.run(["true"])))
                singles.append(timed(lambda: [dev.read_text(p) for p in paths]))
                batched.append(timed(lambda: dev.read_many(paths)))
                sampler = AndroidSampler.start(dev, plan, 1 / args.rate, dev.clock_source().key)
                ticks: set[int] = set()
                for sample in sampler.samples():
                    ticks.add(sample.t_ns)
                    if (max(ticks) - min(ticks)) / 1e9 >= args.seconds:
                        break
                sampler.stop()
                rates.append((len(ticks) - 1) / ((max(ticks) - min(ticks)) / 1e9))
            one, many = statistics.median(singles), statistics.median(batched)
            print(f"shell round trip: median {statistics.median(trips) * 1e3:.1f} ms")
            print(
                f"{len(paths)} files: one by one {one * 1e3:.0f} ms, read_many {many * 1e3:.0f} ms"
                f" (ratio {one / many:.1f}x)"
            )
            print(
                f"sampler at {args.rate:g} Hz target: {statistics.median(rates):.2f} ticks/s"
                f" median over {args.rounds} rounds (device clock)"
            )
        finally:
            phone.kill()
            server.kill()


if __name__ == "__main__":
    main()
