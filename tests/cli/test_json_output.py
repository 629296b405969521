"""`--json` on the commands that print tables: one document on stdout, no table."""

import json
from pathlib import Path

from tests.cli.test_eval import write_task
from tests.report.stores import sweep_store


def test_eval_json_holds_every_score(melt, tmp_path: Path) -> None:
    task = write_task(tmp_path)
    store = str(tmp_path / "melt.db")
    result = melt(
        "eval", "--tasks", str(task), "--threads", "1", "--ctx", "512", "--store", store, "--json"
    )
    assert result.code == 0, result.err
    doc = json.loads(result.out)  # nothing but the document on stdout
    (variant,) = doc["variants"]
    (quiz,) = variant["tasks"]
    assert quiz["task"] == "quiz" and quiz["items"] == 2
    assert {s["metric"] for s in quiz["scores"]} == {"acc", "acc_norm"}
    assert all(0.0 <= s["value"] <= 1.0 and s["n"] == 2 for s in quiz["scores"])
    assert doc["store"] == store and variant["sha256"]


def test_runs_list_json_is_the_stored_rows(melt, tmp_path: Path) -> None:
    db = str(tmp_path / "s.db")
    sweep_store(Path(db))
    rows = json.loads(melt("runs", "list", "--json", "--store", db).out)
    assert [r["id"] for r in rows] == [4, 3, 2, 1]  # newest first, as the table
    assert rows[0]["framework_version"] == "0.3.37" and rows[0]["model_quant"] == "Q4_0"
    assert (
        json.loads(melt("runs", "list", "--json", "--limit", "1", "--store", db).out)[0]["id"] == 4
    )


def test_models_list_json_names_the_bundled_model(melt, bundled) -> None:
    doc = json.loads(melt("models", "list", "--json").out)
    (entry,) = [b for b in doc["bundled"] if b["name"] == bundled.name]
    assert entry["installed"] and entry["sha256"] == bundled.sha256
    assert entry["size_bytes"] == bundled.size_bytes
    assert isinstance(doc["cached"], list)
