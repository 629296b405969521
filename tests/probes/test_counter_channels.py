"""Counter channels: the rate of a value that only grows (RAPL's energy in W, busy jiffies over
total in %), computed from the previous tick by a `PlanReader`. The same plan run by the phone's
sh loop and by this process on one fixture: tests/devices/adb/test_counter_channels_phone.py
(it needs the fake phone's fixtures)."""

from __future__ import annotations

from pathlib import Path

import pytest

from melt.probes import ProbeReadError, make_probe
from melt.probes.channels import Channel, Counter, Derived, ProbePlan
from melt.probes.procfs_lines import KB_PARSER
from melt.traces.sample import Sample

S = 1_000_000_000
MAX_UJ = 262_143_328_850  # a package's max_energy_range_uj
ENERGY = ProbePlan(
    (
        Channel("rapl", "pkg#uj", "/e", "µJ", emit=False),
        Counter("rapl", "power:pkg", "W", "pkg#uj", wrap=MAX_UJ, factor=1e-6, stamp="mid"),
        Derived("rapl", "power", "W", "sum", ("power:pkg",)),
    )
)
JIFFIES = ProbePlan(
    (
        Channel("cpu", "cpu0#busy", "/stat", "", parser="jiffies_busy", emit=False, line="cpu0"),
        Channel("cpu", "cpu0#total", "/stat", "", parser="jiffies_total", emit=False, line="cpu0"),
        Counter("cpu", "cpu0", "%", "cpu0#busy", per="cpu0#total", factor=100.0),
    )
)


def _values(samples: list[Sample]) -> dict[str, tuple[float, int]]:
    return {s.channel: (s.value, s.t_ns) for s in samples}


def test_the_first_tick_gives_no_rate_not_zero() -> None:
    reader = ENERGY.reader()
    assert reader.samples(0, {"/e": "1000000"}) == []  # no previous tick: no sample at all
    assert ENERGY.samples(S, {"/e": "3000000"}) == []  # a bare plan has no previous tick
    watts = _values(reader.samples(2 * S, {"/e": "5000000"}))
    assert watts == {"power:pkg": (pytest.approx(2.0), S), "power": (pytest.approx(2.0), S)}


def test_a_counter_wraps_at_its_max() -> None:
    reader = ENERGY.reader()
    reader.samples(0, {"/e": str(MAX_UJ - 1_000_000)})
    watts = _values(reader.samples(S, {"/e": "3000000"}))
    assert watts["power:pkg"][0] == pytest.approx(4.0)  # 1 J to the wrap, 3 J after it


def test_a_counter_that_goes_back_is_a_read_error_not_a_negative_rate() -> None:
    plan = ProbePlan((Channel("c", "n", "/n", "", emit=False), Counter("c", "rate", "/s", "n")))
    reader = plan.reader()
    reader.samples(0, {"/n": "500"})
    samples, errors = reader.tick(S, {"/n": "200"})
    assert samples == []
    assert [probe for probe, _ in errors] == ["c"]
    assert "went back from 500 to 200" in errors[0][1]
    # the new value is the baseline: the next tick is a rate again
    assert _values(reader.samples(2 * S, {"/n": "260"})) == {"rate": (pytest.approx(60.0), 2 * S)}
    with pytest.raises(ProbeReadError, match="went back"):
        reader.samples(3 * S, {"/n": "0"})


def test_a_planned_probe_reports_jiffies_going_back_and_recovers(tmp_path: Path) -> None:
    stat = tmp_path / "proc/stat"
    stat.parent.mkdir()
    stat.write_text("cpu  100 0 100 800\ncpu0 100 0 100 800\n")
    probe = make_probe("cpu", tmp_path)
    assert probe.read(0) == []
    stat.write_text("cpu  100 0 100 700\ncpu0 150 0 100 800\n")  # the aggregate's total fell
    with pytest.raises(ProbeReadError, match="cpu counter cpu#total went back from 1000 to 900"):
        probe.read(1)
    stat.write_text("cpu  150 0 100 750\ncpu0 200 0 100 850\n")
    assert _values(probe.read(2)) == {"cpu": (50.0, 2), "cpu0": (50.0, 2)}


def test_busy_over_total_jiffies_from_a_multi_line_file() -> None:
    reader = JIFFIES.reader()
    before = "cpu  9 9 9 9\ncpu0 600 0 200 4000 200 0 0 0 0 0\nintr 1 2 3\n"
    after = "cpu  9 9 9 9\ncpu0 700 0 250 4050 200 0 0 0 50 0\nintr 1 2 3\n"
    assert reader.samples(0, {"/stat": before}) == []
    assert _values(reader.samples(1, {"/stat": after})) == {"cpu0": (75.0, 1)}
    assert reader.samples(2, {"/stat": after}) == []  # no jiffy passed: no sample
    with pytest.raises(ProbeReadError, match="/stat has no cpu0 line"):
        reader.samples(3, {"/stat": "cpu  1 2 3 4\n"})


def test_a_periodic_optional_file_is_read_on_its_period_and_dropped_when_unreadable() -> None:
    plan = ProbePlan(
        (Channel("m", "pss", "/p", "B", parser=KB_PARSER, line="Pss:", every_s=1.0, optional=True),)
    )
    reader = plan.reader()
    assert reader.files(0) == ["/p"]
    assert _values(reader.samples(0, {"/p": "Rss: 9 kB\nPss: 2 kB\n"})) == {"pss": (2048.0, 0)}
    assert reader.files(S // 2) == []
    assert reader.samples(S, {"/p": None}) == []  # unreadable: left out, not an error
    assert reader.files(3 * S) == []
