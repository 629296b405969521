"""`melt import`, `melt profile` and `melt report` as a user types them."""

import sqlite3
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "melt"


@pytest.fixture
def store(tmp_path: Path) -> str:
    return str(tmp_path / "melt.db")


def test_import_says_what_it_detected_and_the_runs_show_up(melt, store: str) -> None:
    result = melt("import", str(FIXTURES / "llamacpp" / "timings_sigint.log"), "--store", store)
    assert result.code == 0, result.err
    assert "detected llamacpp-log" in result.out
    assert "3 timing block(s), one per turn" in result.out
    assert "line 33: timing block printed on SIGINT, not a turn" in result.out
    assert "1 malformed line(s) not imported" in result.err
    assert "timings_sigint.log:30: unreadable llama.cpp timing line" in result.err
    listed = melt("runs", "list", "--store", store)
    assert "imported" in listed.out and "20.0" in listed.out
    shown = melt("runs", "show", "1", "--store", store)
    assert shown.code == 0 and "timings_sigint.log" in shown.out
    with sqlite3.connect(store) as db:
        rows = db.execute("select prompt_tokens, generated_tokens from turns").fetchall()
    assert rows == [(51, 21), (10, 41), (6, 11)]


def test_profile_and_report_of_an_imported_graph_dump(melt, store: str) -> None:
    assert melt("import", str(FIXTURES / "llamacpp" / "graph_perf.log"), "--store", store).code == 0
    profile = melt("profile", "1", "--store", store, "--top", "1")
    assert profile.code == 0, profile.err
    assert "9 timed nodes in 2 graph(s), 13.000 ms wall in all" in profile.out
    assert "MUL_MAT" in profile.out and "93.1%" in profile.out and "(3 more)" in profile.out
    report = melt("report", "1", "--store", store)
    assert report.code == 0 and "per-op profile" in report.out and "12.105" in report.out


def test_profile_reads_a_log_directly_by_module(melt) -> None:
    result = melt("profile", str(FIXTURES / "tvm" / "relax_vm_profile.log"), "--by", "module")
    assert result.code == 0, result.err
    assert "fused_fused_dequantize_NT_matmul@0" in result.out and "75.0%" in result.out
    assert "rms_norm@1" in result.out and "10.0%" in result.out
    assert "relax_vm_profile.log:87: report of broken is not profiler JSON" in result.err


def test_energy_figures_are_stored_with_their_mode(melt, store: str) -> None:
    result = melt("import", str(FIXTURES / "layout"), "--store", store)
    assert result.code == 0, result.err
    assert "detected melt-run" in result.out
    assert "energy decode#0 main [melt-compat]: 1.6667 mWh, 0.4167 mAh" in result.out
    # melt's one integration over the exact decode window (1.0–2.5 s: 4 samples, edges
    # included), MELT's rectangle rule over the 2 strictly inside it
    assert "energy decode#0 main [trapezoid]: 3.3333 mWh, 0.8333 mAh" in result.out
    with sqlite3.connect(store) as db:
        modes = db.execute(
            "select mode, round(energy_mwh, 4) from energy_figures where window = 'decode#0'"
        ).fetchall()
        settings = db.execute("select ctx, max_new_tokens, batch, device from runs").fetchall()
    assert sorted(modes) == [("melt-compat", 1.6667), ("trapezoid", 3.3333)]
    assert settings == [
        (2048, 64, None, "Pixel7"),
        (2048, 64, None, "Pixel7"),
        (1024, 32, 128, "Pixel7"),
    ]
    report = melt("report", "1", "--store", store)
    assert "melt-compat" in report.out and "measured by Monsoon power_iter0.csv" in report.out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["import", "nope.log"], "'nope.log' not found"),
        (["import", "{notes}"], "nothing recognisable in"),
        (["import", "{notes}", "--format", "perfetto"], "unknown import format 'perfetto'"),
        (["profile", "1"], "run 1 has no per-op timings"),
        (["profile", "99999"], "no run with id 99999 in"),
        (["profile", "7"], "no run with id 7"),
        (["profile", "{graph}", "--by", "layer"], "--by must be one of op, module, graph"),
        (["report", "9"], "no run with id 9"),
    ],
)
def test_user_mistakes_are_one_line(melt, store: str, tmp_path: Path, args, message) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("nothing here\n")
    melt("import", str(FIXTURES / "mlc" / "stats.json"), "--store", store)
    paths = {"notes": str(notes), "graph": str(FIXTURES / "llamacpp" / "graph_perf.log")}
    result = melt(*[a.format(**paths) for a in args], "--store", store)
    assert result.code == 2
    assert result.err.startswith("melt: error: ") and message in result.err
    assert result.err.count("\n") == 1


def test_profile_by_graph(melt) -> None:
    result = melt("profile", str(FIXTURES / "llamacpp" / "graph_perf.log"), "--by", "graph")
    assert result.code == 0, result.err
    assert "graph 0" in result.out and "69.2%" in result.out and "30.8%" in result.out
    assert "graph_perf.log:27: unreadable node" in result.err
