"""One counter plan, two samplers: the phone's sh loop (over adb, on the fake phone) and the
in-process probes read the same RAPL powercap tree and /proc/stat and give the same samples,
tick for tick (tests/probes/test_counter_channels.py has the counter rules on their own)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tests.fixtures.adb.fake_adbd import make_sandbox
from tests.fixtures.adb.harness import FakePhone

from melt.devices.adb import AdbDevice
from melt.devices.android_sampler import AndroidSampler, clock_ns, parse_tick
from melt.probes import make_probe
from melt.probes.channels import PlanReader, ProbePlan
from melt.runners.android_probes import detect_phone_probes
from melt.traces.sample import Sample

S = 1_000_000_000
# busy (user) and idle jiffies added to lines of the phone's /proc/stat
STAT_AFTER_JIFFIES = {"cpu": (150, 850), "cpu0": (120, 380), "cpu4": (30, 470)}


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    """The phone's filesystem with a RAPL powercap tree beside its own sysfs and /proc/stat."""
    root = make_sandbox(tmp_path / "phone")
    rapl = Path(__file__).parents[2] / "fixtures/sysfs/intel_rapl/sys/class/powercap"
    shutil.copytree(rapl, root / "sys/class/powercap")
    return root


def _phone_tick(
    device: AdbDevice, plan: ProbePlan, reader: PlanReader
) -> tuple[int, list[Sample], list[tuple[str, str]]]:
    """One run of the sh loop (one tick): its line's clock and what the reader makes of it."""
    sampler = AndroidSampler.start(device, plan, 0.0, device.clock_source().key, count=1)
    (line,) = [line for line in sampler.process.lines() if line]
    sampler.process.wait(30)
    return clock_ns(line.split("|")[0]), *parse_tick(line, reader)


def _advance(root: Path) -> None:
    """The counters move: RAPL zones gain energy, two cores (and all of them) gain jiffies."""
    for zone, joules in (("intel-rapl:0", 7.5), ("intel-rapl:0:0", 4.0), ("intel-rapl:1", 12.0)):
        path = root / "sys/class/powercap" / zone / "energy_uj"
        path.write_text(f"{int(path.read_text()) + int(joules * 1e6)}\n")
    stat = root / "proc/stat"
    lines = []
    for line in stat.read_text().splitlines():
        name, *fields = line.split()
        if name in STAT_AFTER_JIFFIES:
            busy, idle = STAT_AFTER_JIFFIES[name]
            fields[0] = str(int(fields[0]) + busy)
            fields[3] = str(int(fields[3]) + idle)
        lines.append(" ".join([name, *fields]))
    stat.write_text("\n".join(lines) + "\n")


def test_the_phone_loop_and_this_process_give_the_same_counter_rates(
    device: AdbDevice, phone: FakePhone
) -> None:
    found = detect_phone_probes(device, {})
    on_phone = {p.name: p for p in found.probes}
    assert {"rapl", "cpu"} <= set(on_phone)
    here = {name: make_probe(name, phone.root) for name in ("rapl", "cpu")}
    plan = on_phone["rapl"].plan() + on_phone["cpu"].plan()  # type: ignore[attr-defined]
    assert "/proc/stat|cpu" in [f"{p}|{s}" for p, s in plan.sources() if s is not None]
    reader = plan.reader()

    ticks, clocks = [], []
    for _ in range(2):
        t_ns, samples, errors = _phone_tick(device, plan, reader)
        assert errors == []
        local = [s for probe in here.values() for s in probe.read(t_ns)]  # type: ignore[arg-type]
        ticks.append((samples, local))
        clocks.append(t_ns)
        _advance(phone.root)

    assert ticks[0] == ([], [])  # the first tick only sets the counters' baselines
    phone_samples, local_samples = ticks[1]
    by_key = {(s.probe, s.channel): s for s in phone_samples}
    assert by_key == {(s.probe, s.channel): s for s in local_samples}
    assert by_key["cpu", "cpu0"].value == pytest.approx(100 * 120 / 500)
    assert by_key["cpu", "cpu4"].value == pytest.approx(100 * 30 / 500)
    assert by_key["cpu", "cpu"].value == pytest.approx(100 * 150 / 1000)
    assert ("cpu", "cpu1") not in by_key  # no jiffy passed on cpu1: no sample, not 0 %
    t0, t1 = clocks
    package = by_key["rapl", "power:package-0"]
    assert package.value == pytest.approx(7.5 / ((t1 - t0) / S))
    assert (package.unit, package.t_ns) == ("W", (t0 + t1) // 2)


def test_a_counter_going_back_on_the_phone_is_a_recorded_read_error(
    device: AdbDevice, phone: FakePhone
) -> None:
    (cpu,) = [p for p in detect_phone_probes(device, {}).probes if p.name == "cpu"]
    plan: ProbePlan = cpu.plan()  # type: ignore[attr-defined]
    reader = plan.reader()
    _phone_tick(device, plan, reader)
    stat = phone.root / "proc/stat"
    first, *rest = stat.read_text().splitlines()
    name, user, *fields = first.split()
    stat.write_text("\n".join([" ".join([name, str(int(user) - 1000), *fields]), *rest]) + "\n")
    _, samples, errors = _phone_tick(device, plan, reader)
    # both rates over the aggregate's total jiffies (`cpu`, `steal`) say so; no rate of it
    assert {(probe, message.partition(" from")[0]) for probe, message in errors} == {
        ("cpu", "cpu counter cpu#total went back")
    }
    assert all(s.value >= 0 for s in samples)
    assert not {"cpu", "steal"} & {s.channel for s in samples}
