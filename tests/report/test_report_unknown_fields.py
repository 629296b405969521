"""A run that leaves optional fields unknown (an OpenAI server that reports no cached
tokens, no thread count, no context size) is reported in every format: unknown figures
read as unknown, never as zero and never as a traceback."""

import json
from pathlib import Path

import pytest
import sqlalchemy
from tests.report.browser import open_in_chromium
from tests.report.odd_runs import add_run, conversations

from melt.store import open_store


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "s.db"
    store = open_store(str(path))
    experiment = store.create_experiment("openai-http", "melt bench", {})
    for sha in "ab":
        add_run(store, experiment, conversations(1, 3), sha=sha, unknown=True)
    return path


def test_json_says_unknown_as_null(melt, db: Path) -> None:
    result = melt("report", "1", "--format", "json", "--store", str(db))
    assert result.code == 0, result.err
    summary = json.loads(result.out)["summary"][0]
    assert summary["prefill_tok_per_s_median_of_turns"] is None  # no evaluated-token count
    assert summary["threads"] is None
    assert summary["decode_tok_per_s_median_of_turns"] == pytest.approx(
        110, rel=0.01
    )  # 120, 110, 100
    turns = json.loads(result.out)["turns"]
    assert [t["prompt_tokens_evaluated"] for t in turns] == [None, None, None]


def test_markdown_leaves_unknown_cells_empty(melt, db: Path) -> None:
    result = melt("report", "1", "--format", "md", "--store", str(db))
    assert result.code == 0, result.err
    header, _, first = result.out.split("## turns")[1].strip().splitlines()[:3]
    cells = dict(zip(header.split("|"), first.split("|"), strict=True))
    assert cells[" prompt_tokens_evaluated "].strip() == ""


def test_csv_writes_every_table(melt, db: Path, tmp_path: Path) -> None:
    result = melt(
        "report", "1", "--format", "csv", "--output", str(tmp_path / "r.csv"), "--store", str(db)
    )
    assert result.code == 0, result.err
    assert "prefill_tok_per_s_median_of_turns" in (tmp_path / "r-summary.csv").read_text()


def test_html_shows_unknown_as_a_dash(melt, db: Path, tmp_path: Path) -> None:
    html = tmp_path / "r.html"
    result = melt("report", "1", "--html", str(html), "--store", str(db))
    assert result.code == 0, result.err
    row = html.read_text(encoding="utf-8").split("<th>roofline</th></tr>")[1].split("</tr>")[0]
    assert "<td>– / –</td>" in row  # threads / ctx unknown
    assert "<td>–; –</td>" in row  # prefill: no median, no total/time


def test_terminal_report_of_several_runs(melt, db: Path) -> None:
    result = melt("report", "exp:1", "--store", str(db))
    assert result.code == 0, result.err
    assert "110.0" in result.out  # the decode rate, known


def test_html_with_a_run_without_decode_rates_draws_every_figure(
    melt, db: Path, tmp_path: Path
) -> None:
    # run 2 has no per-turn decode rate: its Pareto point's median is NaN, which JSON lacks
    with sqlalchemy.create_engine(f"sqlite:///{db}").begin() as conn:
        conn.execute(sqlalchemy.text("UPDATE turns SET decode_tok_per_s = NULL WHERE run_id = 2"))
    html = tmp_path / "r.html"
    result = melt("report", "exp:1", "--html", str(html), "--store", str(db))
    assert result.code == 0, result.err
    page = open_in_chromium(html, tmp_path / "shot.png")
    assert page.errors == []
    assert page.plots == 2 + 1 + 2  # TTFT, decode; Pareto by size; token steps per run
    assert page.drawn == page.plots
