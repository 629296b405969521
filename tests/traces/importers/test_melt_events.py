"""MELT event files, space-separated or CSV, in any order."""

from pathlib import Path

from melt.traces.importers import Interval, read

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "melt" / "events"


def test_unordered_lines_pair_starts_with_ends_by_name() -> None:
    result = read(FIXTURES / "events.txt")
    (run,) = result.runs
    assert run.intervals == [
        Interval("prefill", 1700000000500000000, 1700000001000000000),
        Interval("decode", 1700000001000000000, 1700000002500000000),
    ]
    assert run.intervals[1].duration_s == 1.5
    assert [(m.line, m.text) for m in result.malformed] == [(5, "this line is not an event")]


def test_csv_rows_pair_in_time_order_and_unpaired_starts_are_said() -> None:
    (run,) = read(FIXTURES / "events.csv").runs
    assert run.intervals == [
        Interval("prefill", 1000, 2000),
        Interval("decode", 2000, 5000),
        Interval("prefill", 6000, 6500),
    ]
    assert run.notes == ["event 'decode': 2 start(s) and 1 end(s); 1 left unpaired"]


def test_an_end_before_its_start_is_said_not_stored(tmp_path: Path) -> None:
    log = tmp_path / "events.txt"
    log.write_text("prefill.start 100\nprefill.end 200\ndecode.start 900\ndecode.end 500\n")
    (run,) = read(log).runs
    assert run.intervals == [Interval("prefill", 100, 200)]
    assert run.notes == ["event 'decode': end 500 before start 900, dropped"]
