"""User tasks: a YAML definition over a JSONL file, and its mistakes as one-line errors."""

import json
from pathlib import Path

import pytest

from melt.accuracy.tasks import ACC, ACC_NORM, get_task
from melt.errors import MeltError

ROWS = [
    {"q": "2 + 2", "options": ["3", "4", "5"], "label": 1},
    {"q": "capital of France", "options": ["Rome", "Paris"], "label": "Paris"},
]


def write_task(tmp_path: Path, rows: list[dict] | None = None, **overrides: object) -> Path:
    (tmp_path / "quiz.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows or ROWS))
    config = {
        "name": "quiz",
        "data": "quiz.jsonl",
        "context": "Question: {{q}}\nAnswer:",
        "choices": "{{options}}",
        "answer": "{{label}}",
        "metrics": [ACC, ACC_NORM],
        **overrides,
    }
    path = tmp_path / "quiz.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    return path


def test_yaml_task_builds_items(tmp_path: Path) -> None:
    task = get_task(str(write_task(tmp_path)))
    assert (task.name, task.metrics) == ("quiz", (ACC, ACC_NORM))
    first, second = task.load()
    assert first.requests[1].context == "Question: 2 + 2\nAnswer:"
    assert [r.continuation for r in first.requests] == [" 3", " 4", " 5"]
    assert (first.gold, second.gold) == (1, 1)  # an index, or the gold choice's text


def test_choices_as_a_list_of_templates(tmp_path: Path) -> None:
    rows = [{"q": "x", "a": "yes", "b": "no", "label": 0}]
    task = get_task(str(write_task(tmp_path, rows, choices=["{{a}}", "{{b}}"])))
    assert task.load()[0].choices == ("yes", "no")


@pytest.mark.parametrize(
    ("overrides", "rows", "message"),
    [
        ({"metrics": ["f1"]}, None, "metrics: value error, unknown metric 'f1'"),
        ({"data": "nope.jsonl"}, None, "data file .*nope.jsonl' not found"),
        ({"answer": "{{missing}}"}, None, "quiz.jsonl:1: template"),
        ({}, [{"q": "x", "options": ["a", "b"], "label": 7}], "answer 7 is neither"),
        ({"colour": "red"}, None, "unknown key 'colour'"),
    ],
)
def test_mistakes_are_one_line_errors(
    tmp_path: Path, overrides: dict, rows: list | None, message: str
) -> None:
    with pytest.raises(MeltError, match=message) as info:
        get_task(str(write_task(tmp_path, rows, **overrides))).load()
    assert "\n" not in str(info.value)
