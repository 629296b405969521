"""`melt runs show` and `melt runs export` on sample series written straight into a store.

Run start (the sampler's start) is at 100 s on the monotonic clock. RAPL power is sampled
at 100.5, 101.0, 101.5, 102.0, 102.5 s with 10, 12, 14, 16, 30 W: n 5, 4 intervals over 2 s
→ 2.00 Hz, min 10, median 14, max 30, from 0.5 s to 2.5 s. The estimated CPU power model
gives 4, 5, 6 W at 101, 102, 103 s: 1.00 Hz, median 5, from 1 s to 3 s.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.store.test_store import TURN, make_run

from melt.store.samples import add_samples, add_sampling
from melt.traces.sample import Provenance, Sample

S = 1_000_000_000
START = 100 * S
RAPL = [(100.5, 10.0), (101.0, 12.0), (101.5, 14.0), (102.0, 16.0), (102.5, 30.0)]
MODEL = [(101.0, 4.0), (102.0, 5.0), (103.0, 6.0)]
RAPL_SOURCE = "/sys/class/powercap/intel-rapl:0/energy_uj (package-0)"


@pytest.fixture
def store_path(tmp_path: Path) -> str:
    path = tmp_path / "melt.db"
    store, run_id = make_run(path)
    store.add_turn(run_id, [5, 6, 8], **TURN)
    add_samples(
        store,
        run_id,
        [Sample(int(t * S), "rapl", "package-0", v, "W") for t, v in RAPL]
        + [
            Sample(int(t * S), "cpu_power_model", "power", v, "W", Provenance.ESTIMATED)
            for t, v in MODEL
        ]
        + [Sample(101 * S, "memory", "process_rss", 3 * 1024**2, "B")],
    )
    add_sampling(
        store,
        run_id,
        target_hz=2.0,
        achieved_hz=1.95,
        wall_anchor_ns=1_700_000_000 * S,
        started_ns=START,
        stopped_ns=START + 4 * S,
        ticks=8,
        dropped=1,
        cpu_s=0.02,
        cpu_s_per_s=0.005,
        probes=[
            {"name": "rapl", "source": RAPL_SOURCE},
            {"name": "cpu_power_model", "source": "idle 4 W + 1 W per busy core (test)"},
            {"name": "memory", "source": "psutil"},
        ],
        unavailable={"battery": "no power supply of type Battery"},
        read_errors={"counts": {"rapl": 2}, "last": {}},
        windows={"idle_baseline": {"start_ns": START, "end_ns": START + S, "duration_s": 1.0}},
    )
    return str(path)


def _cells(out: str, series: str) -> list[str]:
    (line,) = [ln for ln in out.splitlines() if ln.startswith(f"│ {series} ")]
    return [c.strip() for c in line.strip("│").split("│")]


def test_show_summarises_every_series_and_the_sampler(
    melt: Callable[..., object], store_path: str
) -> None:
    r = melt("runs", "show", "1", "--store", store_path)
    assert r.code == 0, r.err
    # series, unit, median, n, min, max, provenance, rate Hz, from s, to s
    assert _cells(r.out, "rapl/package-0") == [
        "rapl/package-0", "W", "14.000", "5", "10.000", "30.000",
        "measured by rapl", "2.00", "0.500", "2.500",
    ]  # fmt: skip
    assert _cells(r.out, "cpu_power_model/power") == [
        "cpu_power_model/power", "W", "5.000", "3", "4.000", "6.000",
        "ESTIMATED by cpu_power_model", "1.00", "1.000", "3.000",
    ]  # fmt: skip
    rss = _cells(r.out, "memory/process_rss")
    assert rss[2:6] + rss[7:8] == ["3.0 MiB", "1", "3.0 MiB", "3.0 MiB", "–"]
    assert f"measured by rapl: {RAPL_SOURCE}" in r.out
    assert "ESTIMATED by cpu_power_model: idle 4 W + 1 W per busy core (test)" in r.out
    assert (
        "sampler: 2.0 Hz target, 1.95 Hz achieved, 8 ticks over 4.000 s, 1 dropped ticks, "
        "own CPU 0.020 s (0.50% of one core)"
    ) in r.out
    assert "read errors: rapl 2" in r.out
    assert "idle baseline: 1.000 s from 0.000 s" in r.out
    assert "unavailable: battery: no power supply of type Battery" in r.out


def test_show_series_prints_the_raw_points(melt: Callable[..., object], store_path: str) -> None:
    r = melt("runs", "show", "1", "--series", "rapl/package-0", "--store", store_path)
    assert r.code == 0, r.err
    header, columns, *points = r.out.splitlines()
    assert header.startswith("# rapl/package-0: 5 samples, unit W, measured by rapl: ")
    assert columns.split() == ["t_s", "value_W"]
    assert [tuple(float(x) for x in p.split()) for p in points] == [(t - 100, v) for t, v in RAPL]
    by_channel = melt("runs", "show", "1", "--series", "power", "--store", store_path)
    assert by_channel.out.startswith("# cpu_power_model/power: 3 samples, unit W, ESTIMATED")
    unknown = melt("runs", "show", "1", "--series", "gpu", "--store", store_path)
    assert unknown.code == 2
    assert "--series 'gpu' is not a series of this run (series: rapl/package-0," in unknown.err


def test_show_without_samples_says_so(melt: Callable[..., object], tmp_path: Path) -> None:
    _, run_id = make_run(tmp_path / "melt.db")
    r = melt("runs", "show", str(run_id), "--store", str(tmp_path / "melt.db"))
    assert r.code == 0, r.err
    assert "sample series: none stored for this run" in r.out and "sampler:" not in r.out


def test_json_export_carries_every_series_with_unit_and_provenance(
    melt: Callable[..., object], store_path: str
) -> None:
    r = melt("runs", "export", "1", "--store", store_path)
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert set(doc["samples"]) == {"rapl/package-0", "cpu_power_model/power", "memory/process_rss"}
    rapl = doc["samples"]["rapl/package-0"]
    assert rapl["unit"] == "W" and rapl["provenance"] == "measured"
    assert rapl["source"] == RAPL_SOURCE
    assert rapl["t_ns"] == [int(t * S) for t, _ in RAPL]
    assert rapl["value"] == [v for _, v in RAPL]
    assert doc["samples"]["cpu_power_model/power"]["provenance"] == "estimated"
    assert doc["sampling"]["dropped"] == 1 and doc["sampling"]["started_ns"] == START
    assert doc["turns"][0]["token_ns"] == [5, 6, 8]


def test_csv_export_of_samples_is_long_format(melt: Callable[..., object], store_path: str) -> None:
    r = melt("runs", "export", "1", "--format", "csv", "--table", "samples", "--store", store_path)
    assert r.code == 0, r.err
    rows = list(csv.DictReader(io.StringIO(r.out)))
    assert list(rows[0]) == [
        "run_id", "probe", "series", "unit", "provenance", "source", "t_ns", "t_s", "value",
    ]  # fmt: skip
    assert len(rows) == 5 + 3 + 1
    assert [float(r["t_s"]) for r in rows] == sorted(float(r["t_s"]) for r in rows)
    rapl = [r for r in rows if r["probe"] == "rapl"]
    assert [(float(r["t_s"]), float(r["value"])) for r in rapl] == [(t - 100, v) for t, v in RAPL]
    assert {(r["series"], r["unit"], r["provenance"], r["source"]) for r in rapl} == {
        ("package-0", "W", "measured", RAPL_SOURCE)
    }
    model = [r for r in rows if r["probe"] == "cpu_power_model"]
    assert {r["provenance"] for r in model} == {"estimated"}
    turns = melt("runs", "export", "1", "--format", "csv", "--store", store_path)
    assert turns.out.startswith("run_id,model_sha256,model_quant")
    bad = melt("runs", "export", "1", "--format", "csv", "--table", "ops", "--store", store_path)
    assert bad.code == 2 and "--table must be turns or samples (got 'ops')" in bad.err


def test_json_export_of_an_imported_run_has_its_intervals_and_no_samples(
    melt: Callable[..., object], tmp_path: Path
) -> None:
    store = str(tmp_path / "melt.db")
    events = Path(__file__).parents[1] / "fixtures" / "melt" / "events" / "events.txt"
    assert melt("import", str(events), "--store", store).code == 0
    doc = json.loads(melt("runs", "export", "1", "--store", store).out)
    assert [(i["name"], i["start_ns"], i["end_ns"]) for i in doc["event_intervals"]] == [
        ("prefill", 1_700_000_000_500_000_000, 1_700_000_001_000_000_000),
        ("decode", 1_700_000_001_000_000_000, 1_700_000_002_500_000_000),
    ]
    assert doc["samples"] == {} and doc["sampling"] is None
    shown = melt("runs", "show", "1", "--store", store)
    assert "sample series: none stored for this run" in shown.out
