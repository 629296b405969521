"""Every file melt reads: not UTF-8, or not the expected shape, is one line that names the
file, the place and the fix; never a traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from melt.accuracy.tasks import get_task
from melt.cli.bench import build_experiment
from melt.config.device_profile import load_device_profile
from melt.errors import MeltError
from melt.files import iter_jsonl, load_json, load_yaml, read_text_file
from melt.traces.importers import read as import_read
from melt.workloads import load_workload

NOT_UTF8 = b"name: caf\xe9\nthreads: [1]\n"  # Latin-1 'é' on line 1, column 10


def _task_with_data(tmp_path: Path, data: bytes) -> Any:
    (tmp_path / "d.jsonl").write_bytes(data)
    yaml = tmp_path / "t.yaml"
    yaml.write_text("name: t\ndata: d.jsonl\ncontext: '{{q}}'\nchoices: '{{o}}'\nanswer: '{{a}}'\n")
    return get_task(str(yaml)).load()


# (reader of one file, file name) for every kind of file a user hands melt.
READERS: dict[str, tuple[Callable[[Path], Any], str]] = {
    "experiment": (lambda p: build_experiment(p, {}), "exp.yaml"),
    "device profile": (load_device_profile, "device.yaml"),
    "task yaml": (lambda p: get_task(str(p)), "task.yaml"),
    "workload": (load_workload, "workload.json"),
    "import source": (lambda p: import_read(p, "monsoon"), "power.csv"),
}


def _one_line(info: pytest.ExceptionInfo[MeltError]) -> str:
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("kind", READERS)
def test_a_file_that_is_not_utf8_names_the_file_and_the_place(tmp_path: Path, kind: str) -> None:
    read, name = READERS[kind]
    path = tmp_path / name
    path.write_bytes(NOT_UTF8)
    with pytest.raises(MeltError) as info:
        read(path)
    message = _one_line(info)
    assert f"'{path}' line 1 column 10: byte 0xe9 is not UTF-8 text" in message
    assert "save the file as UTF-8" in message


def test_task_data_that_is_not_utf8_names_its_line(tmp_path: Path) -> None:
    with pytest.raises(MeltError) as info:
        _task_with_data(tmp_path, b'{"q": "x", "o": ["a"], "a": 0}\n{"q": "\xff"}\n')
    assert "d.jsonl' line 2 column 8: byte 0xff is not UTF-8" in _one_line(info)


@pytest.mark.parametrize(
    ("kind", "text", "place"),
    [
        ("experiment", "- threads\n- 2\n", "top level must be a mapping of keys, got a list"),
        ("experiment", "threads: [1, [2]]\n", "threads[1]: input should be a valid integer"),
        ("device profile", "[1, 2]\n", "top level must be a mapping of keys, got a list"),
        ("device profile", "power_model: {idle_w: -1, active_w_per_core: 1}\n", "power_model"),
        (
            "device profile",
            "power_model: {idle_w: 1, active_w_per_core: 1, watts: 2}\n",
            "'power_model.watts'",
        ),
        ("task yaml", "just a string\n", "top level must be a mapping of keys, got a string"),
        ("task yaml", "name: [x]\n", "name: input should be a valid string"),
        ("workload", '{"a": 1}', "top level must be a list of conversations"),
        ("workload", '[["ok"], [3]]', "conversation [1] turn [0]"),
    ],
)
def test_a_file_of_the_wrong_shape_names_the_key_path(
    tmp_path: Path, kind: str, text: str, place: str
) -> None:
    read, name = READERS[kind]
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(MeltError) as info:
        read(path)
    message = _one_line(info)
    assert str(path) in message and place in message


@pytest.mark.parametrize(
    ("lines", "place"),
    [
        (b'{"q": "x", "o": ["a"], "a": 0}\n[1, 2]\n', "d.jsonl:2: expected a JSON object"),
        (b'{"q": "x", "o": ["a"], "a": 0}\n{"q": \n', "d.jsonl' line 2 column 7: invalid JSON"),
    ],
)
def test_task_data_of_the_wrong_shape_names_the_line(
    tmp_path: Path, lines: bytes, place: str
) -> None:
    with pytest.raises(MeltError) as info:
        _task_with_data(tmp_path, lines)
    assert place in _one_line(info)


def test_sampling_that_is_not_a_mapping_with_a_sampling_flag_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text("sampling: 5\n")
    with pytest.raises(MeltError) as info:
        build_experiment(path, {"sampling": {"seed": 3}})
    message = _one_line(info)
    assert f"experiment file '{path}': sampling must be a mapping like {{seed: 5}}" in message
    assert "got a number" in message


def test_the_readers_name_missing_files_directories_and_syntax(tmp_path: Path) -> None:
    with pytest.raises(MeltError, match=r"thing '.*nope' not found \(pass --x\)"):
        read_text_file(tmp_path / "nope", "thing", "pass --x")
    with pytest.raises(MeltError, match="is a directory, not a file"):
        read_text_file(tmp_path, "thing", "pass --x")
    bad_yaml = tmp_path / "a.yaml"
    bad_yaml.write_text("a: [1\nb: 2\n")
    with pytest.raises(MeltError, match=r"a.yaml' line 2 column 2: .*fix the YAML syntax"):
        load_yaml(bad_yaml, "thing", "pass --x")
    bad_json = tmp_path / "a.json"
    bad_json.write_text('{\n  "a": 1,\n}\n')
    with pytest.raises(MeltError, match=r"a.json' line 3 column 1: invalid JSON"):
        load_json(bad_json, "thing", "pass --x")
    lines = tmp_path / "a.jsonl"
    lines.write_text('{"a": 1}\n\n{"a": }\n')
    with pytest.raises(MeltError, match=r"a.jsonl' line 3 column 7: invalid JSON"):
        list(iter_jsonl(lines, "thing", "pass --x"))
    lines.write_text('{"a": 1}\n\n{"a": 2}\n')
    assert list(iter_jsonl(lines, "thing", "pass --x")) == [(1, {"a": 1}), (3, {"a": 2})]
