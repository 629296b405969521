"""Monsoon CSV without a header, placed on the epoch by its .t_monsoon file."""

import shutil
from pathlib import Path

import pytest

from melt.traces.importers import read

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "melt" / "monsoon"


def test_rows_become_a_power_trace_on_the_epoch_of_t_monsoon() -> None:
    result = read(FIXTURES / "power.csv")
    (trace,) = result.runs[0].power
    assert trace.t_s[0] == 1700000000.0 and trace.t_s[-1] == 1700000003.0
    assert trace.current_ma == (1000.0, 1000.0, 1000.0, 2000.0, 3000.0, 1000.0, 1000.0)
    assert trace.power_mw[4] == pytest.approx(12000.0)
    assert [(m.line, m.text) for m in result.malformed] == [(7, "oops,1,2,")]


def test_without_t_monsoon_times_stay_relative_and_it_says_so(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "power.csv", tmp_path / "capture.csv")
    result = read(tmp_path / "capture.csv")
    assert result.runs[0].power[0].t_s[0] == 0.0
    assert "no .t_monsoon file: times stay relative to the capture start" in result.found
