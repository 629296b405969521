"""MLC runtime stats JSON."""

from pathlib import Path

import pytest

from melt.errors import MeltError
from melt.traces.importers import read

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "melt" / "mlc"


def test_prefill_and_decode_throughput_and_tokens() -> None:
    (turn,) = read(FIXTURES / "stats.json").runs[0].turns
    assert (turn.prompt_tokens, turn.generated_tokens) == (47, 25)
    assert (turn.prefill_tok_per_s, turn.decode_tok_per_s) == (283.4, 12.5)
    assert turn.decode_ms == pytest.approx(2000.0)
    assert turn.counters["prefill.total time [s]"] == 0.166


def test_a_throughput_without_a_number_is_one_error(tmp_path: Path) -> None:
    bad = tmp_path / "stats.json"
    bad.write_text('{"prefill": {"throughput": "fast"}, "decode": {}}')
    with pytest.raises(MeltError, match="is not MLC runtime stats JSON"):
        read(bad)
