"""MELT experiment folders: <Device>/<App>/<model>/run_cs<ctx>_mgl<gen>[_bs<batch>]/."""

from pathlib import Path

from melt.traces.importers import read
from melt.traces.importers.melt_run import iteration_of

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "melt" / "layout"


def test_each_iteration_of_each_run_folder_is_a_run_with_its_settings() -> None:
    result = read(FIXTURES)
    assert result.format == "melt-run"
    first, second, mlc = result.runs
    assert (first.device, first.framework, first.model) == (
        "Pixel7",
        "llama.cpp",
        "smollm2-135m-q4_1",
    )
    assert first.settings["ctx"] == 2048 and first.settings["max_new_tokens"] == 64
    assert first.settings["batch"] is None
    assert (first.repeat_index, second.repeat_index) == (0, 1)
    assert (len(first.turns), len(first.intervals), len(first.power)) == (2, 2, 1)
    assert (len(second.turns), second.power) == (1, [])
    assert (mlc.framework, mlc.settings["batch"], mlc.settings["ctx"]) == ("mlc", 128, 1024)
    assert len(mlc.turns) == 1 and len(mlc.ops) == 5


def test_unrecognised_files_and_malformed_lines_are_listed() -> None:
    result = read(FIXTURES)
    assert any(line.endswith("notes.md: not recognised, skipped") for line in result.found)
    assert sorted(Path(m.path).name for m in result.malformed) == [
        "power_iter0.csv",
        "profile_0.log",
    ]


def test_iteration_numbers_come_from_the_file_name() -> None:
    assert iteration_of(Path("events_iter3.txt")) == 3
    assert iteration_of(Path("power_12.csv")) == 12
    assert iteration_of(Path("stats.json")) == 0


def test_a_run_folder_named_directly_keeps_its_device_app_and_model() -> None:
    folder = FIXTURES / "Pixel7/mlc/Llama-2-7b-chat-q4f16_1/run_cs1024_mgl32_bs128"
    (run,) = read(folder).runs
    assert (run.device, run.framework, run.model) == ("Pixel7", "mlc", "Llama-2-7b-chat-q4f16_1")
