"""A user task's templates are data: Jinja2 renders them in its sandbox, so a task file that
reaches for Python internals is a one-line error from `melt eval`, and nothing it asks for
runs."""

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from melt.accuracy.tasks import get_task
from melt.errors import MeltError

# Each reaches `os` (or a class's subclasses) through an object Jinja2 puts in every
# template's namespace, or through a field's own attributes.
PAYLOADS = [
    "{{ cycler.__init__.__globals__.os.system('touch MARKER') }}",
    "{{ joiner.__init__.__globals__.os.popen('touch MARKER').read() }}",
    "{{ lipsum.__globals__['os'].system('touch MARKER') }}",
    "{{ q.__class__.__mro__[1].__subclasses__() }}",
]


def write_task(tmp_path: Path, context: str) -> Path:
    rows = [{"q": "two plus two", "options": ["3", "4"], "label": 1}]
    (tmp_path / "quiz.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    path = tmp_path / "quiz.yaml"
    config = {
        "name": "quiz",
        "data": "quiz.jsonl",
        "context": context,
        "choices": "{{options}}",
        "answer": "{{label}}",
    }
    path.write_text(json.dumps(config))  # JSON is YAML
    return path


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_template_reaching_for_python_is_refused_and_runs_nothing(
    melt: Callable[..., object],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    payload: str,
) -> None:
    marker = tmp_path / "MARKER"
    task = write_task(tmp_path, payload.replace("MARKER", str(marker)))
    monkeypatch.chdir(tmp_path)
    result = melt("eval", "--tasks", str(task), "--threads", "1", "--store", str(tmp_path / "m.db"))
    assert result.code == 2, result.out + result.err
    (line,) = result.err.strip().splitlines()  # one line, after the progress display's
    assert line.startswith("melt: error:")
    assert "quiz.jsonl:1: template" in line and "unsafe" in line and "fix the task YAML" in line
    assert "Traceback" not in result.err
    assert not marker.exists()


def test_a_template_cannot_change_the_data_it_reads(tmp_path: Path) -> None:
    task = get_task(str(write_task(tmp_path, "{{ options.append('5') }}{{ q }}")))
    with pytest.raises(MeltError, match=r"quiz\.jsonl:1: template .* unsafe"):
        task.load()


def test_native_values_survive_the_sandbox(tmp_path: Path) -> None:
    # `{{options}}` still renders to the field's list and `{{label}}` to its int.
    (item,) = get_task(str(write_task(tmp_path, "Q: {{ q | upper }}"))).load()
    assert item.requests[0].context == "Q: TWO PLUS TWO"
    assert (item.choices, item.gold) == (("3", "4"), 1)
