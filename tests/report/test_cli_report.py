"""`melt report` over a real sweep: HTML checked in Chromium, the same content as tables in
every format, the single-run terminal summary unchanged, imported runs still reported."""

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from tests.report.browser import open_in_chromium

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "melt"


@pytest.mark.slow
def test_html_of_the_sweep_renders_in_chromium(melt, sweep_db: str, tmp_path: Path) -> None:
    html = tmp_path / "report.html"
    result = melt("report", "--last", "--html", str(html), "--store", sweep_db)
    assert result.code == 0, result.err
    text = html.read_text(encoding="utf-8")
    assert "smollm2-135m-instruct Q8_0" in text and "smollm2-135m-instruct Q4_0" in text
    assert "device fact recorded with the run: numpy dot" in text  # measured by the bench
    assert "Pareto view" in text and "median of per-turn rates" in text
    page = open_in_chromium(html, tmp_path / "shot.png")
    assert page.errors == [] and page.offline_requests == []
    # TTFT, decode vs depth, roofline; Pareto decode vs size; per run steps and probes
    assert page.plots == 3 + 1 + 2 * 2
    assert page.drawn == page.plots


@pytest.mark.slow
def test_every_table_format_holds_the_same_rows(melt, sweep_db: str, tmp_path: Path) -> None:
    doc = json.loads(
        melt("report", "--experiment", "1", "--format", "json", "--store", sweep_db).out
    )
    assert [r["run_id"] for r in doc["summary"]] == [1, 2]
    assert {r["quant"] for r in doc["summary"]} == {"Q8_0", "Q4_0"}
    summary = doc["summary"][0]
    assert summary["decode_tok_per_s_median_of_turns"] > 0
    assert summary["decode_tok_per_s_total_over_time"] > 0
    assert {q["check"] for q in doc["qoe"]} == {"reading", "responsiveness", "battery", "thermal"}
    assert all("percent_of_limit" in r for r in doc["roofline"])
    assert sum(r["pareto_optimal"] for r in doc["pareto"]) >= 1
    md = melt("report", "1", "2", "--format", "md", "--store", sweep_db)
    assert md.code == 0 and "## summary" in md.out and "## qoe" in md.out
    assert md.out.count("| smollm2-135m-instruct |") == 2
    out = tmp_path / "r.parquet"
    assert (
        melt(
            "report", "1", "2", "--format", "parquet", "--output", str(out), "--store", sweep_db
        ).code
        == 0
    )
    table = pq.read_table(tmp_path / "r-summary.parquet").to_pylist()
    assert [r["run_id"] for r in table] == [1, 2]
    assert table[0]["decode_tok_per_s_median_of_turns"] == pytest.approx(
        summary["decode_tok_per_s_median_of_turns"]
    )
    csv_out = tmp_path / "r.csv"
    assert (
        melt(
            "report", "--last", "--format", "csv", "--output", str(csv_out), "--store", sweep_db
        ).code
        == 0
    )
    turns = (tmp_path / "r-turns.csv").read_text().splitlines()
    assert len(turns) == 1 + len(doc["turns"])


@pytest.mark.slow
def test_the_single_run_terminal_summary_is_unchanged(melt, sweep_db: str) -> None:
    result = melt("report", "1", "--store", sweep_db)
    assert result.code == 0, result.err
    assert "run 1 (completed)" in result.out and "median of" in result.out
    both = melt("report", "1", "2", "--store", sweep_db)
    assert both.code == 0 and "total/time" in both.out and "quality of experience" in both.out


def test_an_imported_melt_run_gets_an_html_report(melt, tmp_path: Path) -> None:
    store = str(tmp_path / "melt.db")
    assert melt("import", str(FIXTURES / "layout"), "--store", store).code == 0
    html = tmp_path / "imported.html"
    result = melt("report", "1", "--html", str(html), "--store", store)
    assert result.code == 0, result.err
    assert "Pixel7" in html.read_text(encoding="utf-8")
    # MELT's logs do not say whether the model ran on the CPU or the GPU: no DRAM bound
    assert "compute backend not recorded by the import" in html.read_text(encoding="utf-8")
    plain = melt("report", "1", "--store", store)
    assert plain.code == 0 and "melt-compat" in plain.out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["report"], "name the runs: RUN_ID…, --experiment ID or --last"),
        (["report", "1", "--last"], "exactly one of them"),
        (["report", "--last", "--format", "xml"], "--format must be one of md, json, csv"),
        (["report", "--last", "--format", "csv"], "pass --output PATH"),
        (["report", "--last", "--reading-wpm", "0"], "--reading-wpm must be a finite number > 0"),
        (["report", "--experiment", "5"], "no runs in experiment 5"),
    ],
)
def test_report_mistakes_are_one_line(melt, tmp_path: Path, args, message) -> None:
    store = str(tmp_path / "melt.db")
    melt("import", str(FIXTURES / "layout"), "--store", store)
    result = melt(*args, "--store", store)
    assert result.code == 2, result.out
    assert result.err.startswith("melt: error: ") and message in result.err
