"""Detection by content, and one-line errors for paths with nothing to import."""

from pathlib import Path

import pytest

from melt.errors import MeltError
from melt.traces.importers import detect, read

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "melt"


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("llamacpp/timings_sigint.log", "llamacpp-log"),
        ("llamacpp/graph_perf.log", "llamacpp-log"),
        ("llamacpp/smollm2_real_perf.log", "llamacpp-log"),
        ("tvm/relax_vm_profile.log", "tvm-log"),
        ("events/events.txt", "melt-events"),
        ("events/events.csv", "melt-events"),
        ("monsoon/power.csv", "monsoon"),
        ("jetson/monitor.log", "jetson-log"),
        ("mlc/stats.json", "mlc-stats"),
        ("llmfarm/timings.csv", "llmfarm-csv"),
        ("layout", "melt-run"),
        ("layout/Pixel7", "melt-run"),
    ],
)
def test_each_fixture_is_detected_by_its_content(path: str, name: str) -> None:
    importer = detect(FIXTURES / path)
    assert importer is not None and importer.name == name


def test_detection_ignores_the_file_name(tmp_path: Path) -> None:
    disguised = tmp_path / "power.csv"
    disguised.write_bytes((FIXTURES / "llamacpp" / "timings_sigint.log").read_bytes())
    assert read(disguised).format == "llamacpp-log"


def test_a_file_with_nothing_recognisable_is_one_error(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("just some notes\nabout a phone\n")
    with pytest.raises(MeltError, match="nothing recognisable in") as err:
        read(notes)
    assert "\n" not in str(err.value)


def test_a_forced_format_that_finds_nothing_is_one_error() -> None:
    with pytest.raises(MeltError, match="has no TVM/MLC profiler reports that melt can store"):
        read(FIXTURES / "monsoon" / "power.csv", "tvm-log")


def test_unknown_format_and_missing_path_are_errors(tmp_path: Path) -> None:
    with pytest.raises(MeltError, match="unknown import format 'perfetto'"):
        read(FIXTURES / "mlc" / "stats.json", "perfetto")
    with pytest.raises(MeltError, match="not found"):
        read(tmp_path / "nope.log")


def test_a_forced_format_of_the_wrong_kind_is_one_error(tmp_path: Path) -> None:
    with pytest.raises(MeltError, match="is a folder, which --format tvm-log does not read"):
        read(FIXTURES / "layout", "tvm-log")
    with pytest.raises(MeltError, match="is a file, which --format melt-run does not read"):
        read(FIXTURES / "mlc" / "stats.json", "melt-run")


def test_a_t_monsoon_without_a_number_is_one_error(tmp_path: Path) -> None:
    (tmp_path / "p.csv").write_text("0.0,1000.0,4.0,\n")
    (tmp_path / "p.t_monsoon").write_text("yesterday\n")
    with pytest.raises(MeltError, match="should hold the capture's start in epoch seconds"):
        read(tmp_path / "p.csv")
