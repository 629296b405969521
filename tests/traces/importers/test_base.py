"""An import that recognises nothing stores nothing: no run of 0 samples, no turn of Nones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from melt.errors import MeltError
from melt.ingest import import_path, store_result
from melt.store import open_store, schema
from melt.traces.importers import ImportedRun, ImportedTurn, ImportResult, PowerTrace, read


def _rows(store_path: str) -> tuple[int, int, int]:
    store = open_store(store_path)
    with store.engine.connect() as conn:
        return tuple(  # type: ignore[return-value]
            conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (schema.experiments, schema.runs, schema.turns)
        )


def _turn(**figures: object) -> ImportedTurn:
    values: dict[str, object] = {
        "index": 0,
        "prompt_tokens": 10,
        "generated_tokens": 5,
        "prefill_ms": 20.0,
        "decode_ms": 100.0,
    }
    return ImportedTurn(**{**values, **figures})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("figures", "problem"),
    [
        ({}, None),
        ({"prefill_ms": None, "decode_ms": None}, "no prefill, decode or total duration"),
        ({"prefill_ms": None, "decode_ms": None, "total_ms": 50.0}, None),
        ({"prompt_tokens": 0, "generated_tokens": 0}, "no prompt or generated token counts"),
        ({"decode_ms": float("nan")}, "negative or NaN decode_ms"),
        ({"generated_tokens": -1}, "negative or NaN token counts"),
        ({"decode_tok_per_s": -3.0}, "negative or NaN decode_tok_per_s"),
    ],
)
def test_a_turn_needs_tokens_and_a_duration(figures: dict, problem: str | None) -> None:
    assert _turn(**figures).problem() == problem


def test_binary_forced_as_monsoon_stores_nothing(tmp_path: Path) -> None:
    binary = tmp_path / "random.bin"
    binary.write_bytes(bytes(range(256)) * 16)  # every byte value: not UTF-8
    store = str(tmp_path / "store")
    with pytest.raises(MeltError) as info:
        import_path(open_store(store), binary, "monsoon", "test")
    assert f"import source '{binary}' line " in str(info.value)
    assert _rows(store) == (0, 0, 0)


def test_text_with_no_sample_forced_as_monsoon_stores_nothing(tmp_path: Path) -> None:
    text = tmp_path / "notes.csv"
    text.write_text("time,current\nabc,def\n")
    store = str(tmp_path / "store")
    with pytest.raises(MeltError) as info:
        import_path(open_store(store), text, "monsoon", "test")
    message = str(info.value)
    assert message.startswith(f"'{text}' has no Monsoon time_s,current_mA,voltage_V rows")
    assert "--format monsoon: power rail 'main' has no samples" in message
    assert "2 malformed line(s)" in message and "\n" not in message
    assert _rows(store) == (0, 0, 0)


@pytest.mark.parametrize(
    "document",
    [
        {"prefill": {"note": "x"}, "decode": {}},
        {"runs": [1, 2, 3]},
        {"prefill": {"throughput": "10 tok/s"}, "decode": {"throughput": "5 tok/s"}},
    ],
)
def test_json_of_the_wrong_shape_forced_as_mlc_stats_stores_nothing(
    tmp_path: Path, document: dict
) -> None:
    path = tmp_path / "other.json"
    path.write_text(json.dumps(document))
    store = str(tmp_path / "store")
    with pytest.raises(MeltError) as info:
        import_path(open_store(store), path, "mlc-stats", "test")
    message = str(info.value)
    assert f"'{path}' has no MLC runtime stats JSON that melt can store" in message
    assert "turn 0 refused: no prompt or generated token counts" in message
    assert _rows(store) == (0, 0, 0)


def test_invalid_turns_are_dropped_and_said_while_valid_ones_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "timings.csv"
    header = (
        "t_start_ms,t_end_ms,t_load_ms,t_sample_ms,t_p_eval_ms,t_eval_ms,n_sample,n_p_eval,n_eval"
    )
    path.write_text(f"{header}\n0,100,1,1,20,70,8,12,7\n0,0,0,0,0,0,0,0,0\n")
    result = read(path)
    (run,) = result.runs
    assert [t.index for t in run.turns] == [0]
    assert run.notes == ["timings.csv: turn 1 refused: no prompt or generated token counts"]


def test_store_result_refuses_an_empty_result_before_writing(tmp_path: Path) -> None:
    run = ImportedRun(label="empty", sources=[str(tmp_path / "x")])
    run.power.append(PowerTrace("Monsoon x", "main", (), ()))
    store = str(tmp_path / "store")
    with pytest.raises(MeltError, match="has no Monsoon"):
        store_result(open_store(store), ImportResult("monsoon", [run]), tmp_path / "x", "t")
    assert _rows(store) == (0, 0, 0)
