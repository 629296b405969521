"""LLMFarm timing CSV."""

from pathlib import Path

import pytest

from melt.traces.importers import read

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "melt" / "llmfarm"


def test_rows_become_turns_and_a_short_row_is_reported() -> None:
    result = read(FIXTURES / "timings.csv")
    turns = result.runs[0].turns
    assert [(t.prompt_tokens, t.generated_tokens, t.decode_steps) for t in turns] == [
        (50, 20, 19),
        (10, 8, 7),
    ]
    assert [t.total_ms for t in turns] == [3000.0, 1000.0]
    assert turns[0].prefill_tok_per_s == pytest.approx(50.0)
    assert turns[0].decode_tok_per_s == pytest.approx(10.0)
    assert turns[1].counters["t_start_ms"] == 5000.0
    assert [(m.line, m.reason) for m in result.malformed] == [(4, "2 fields, expected 9")]
