"""`melt bench` and `melt runs` end to end on the real bundled model."""

import csv
import io
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

TINY = ("--conversations", "2", "--max-new-tokens", "8", "--threads", "2")


@pytest.fixture(scope="module")
def two_turn_workload(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("w") / "w.json"
    path.write_text(json.dumps([["Say hello.", "Now say goodbye."], ["Count to three.", "Again."]]))
    return path


def test_bench_json_document_and_store(
    melt: Callable[..., object], two_turn_workload: Path, tmp_path: Path
) -> None:
    store = tmp_path / "res"
    r = melt(
        "bench",
        *TINY,
        "--workload",
        str(two_turn_workload),
        "--repeats",
        "2",
        "--warmup",
        "1",
        "--seed",
        "5",
        "--ctx",
        "512",
        "--store",
        str(store),
        "--json",
    )
    assert r.code == 0, r.err
    doc = r.json()
    (cell,) = doc["cells"]
    assert cell["model"]["quant"] == "Q4_1" and len(cell["model"]["sha256"]) == 64
    assert 4 < cell["model"]["bits_per_weight"] < 6
    assert cell["settings"]["sampling"]["seed"] == 5 and cell["settings"]["ctx"] == 512
    assert [run["status"] for run in cell["runs"]] == ["completed", "completed"]
    agg = cell["aggregates"]
    assert agg["turns"] == 8  # 2 conversations × 2 turns × 2 runs; warmups excluded
    assert agg["decode_tok_per_s"]["n"] <= 8
    assert agg["ttft_s"]["ci_low"] <= agg["ttft_s"]["median"] <= agg["ttft_s"]["ci_high"]
    assert cell["runs"][0]["decode_consistency"]["engine_tok_per_s"] > 0

    with sqlite3.connect(store / "melt.db") as db:
        rows = db.execute("select warmup, count(*) from turns group by warmup").fetchall()
        assert dict(rows) == {0: 8, 1: 2}  # one warmup turn per run is stored, flagged
        stamps = db.execute(
            "select t.generated_tokens, s.count from turns t join token_timestamps s "
            "on s.turn_id = t.id"
        ).fetchall()
        assert all(gen == count for gen, count in stamps)
        run = db.execute(
            "select model_sha256, threads, max_new_tokens, decode_consistency_rel_diff, "
            "peak_rss_bytes, environment_id from runs"
        ).fetchone()
        assert run[0] == cell["model"]["sha256"] and run[1:3] == (2, 8)
        assert run[3] is not None and run[4] > 0
        env = db.execute("select cpu_model, ram_bytes, facts from environments").fetchone()
        assert env[0] and env[1] > 0 and "llama-cpp-python" in env[2]

    run_id = str(cell["runs"][0]["run_id"])
    listed = melt("runs", "list", "--store", str(store))
    assert listed.code == 0 and "completed" in listed.out
    shown = melt("runs", "show", run_id, "--store", str(store))
    assert shown.code == 0 and cell["model"]["sha256"] in shown.out
    exported = melt("runs", "export", run_id, "--format", "json", "--store", str(store))
    assert len(json.loads(exported.out)["turns"]) == 5
    table = list(
        csv.DictReader(
            io.StringIO(
                melt("runs", "export", run_id, "--format", "csv", "--store", str(store)).out
            )
        )
    )
    assert len(table) == 5 and table[0]["model_quant"] == "Q4_1"
    bad = melt("runs", "export", run_id, "--format", "xml", "--store", str(store))
    assert bad.code == 2 and "--format must be json or csv" in bad.err


def test_default_bench_prints_a_summary(melt: Callable[..., object], tmp_path: Path) -> None:
    r = melt("bench", "--conversations", "1", "--max-new-tokens", "8", "--store", str(tmp_path))
    assert r.code == 0, r.err
    for text in ("smollm2-135m-instruct", "TTFT", "Prefill", "Decode", "tok/s", "95% CI"):
        assert text in r.out


def test_workload_stats(melt: Callable[..., object], two_turn_workload: Path) -> None:
    r = melt("workload", "stats", str(two_turn_workload))
    assert r.code == 0, r.err
    assert "conversations" in r.out and "tokens/turn" in r.out
