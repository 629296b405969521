"""A user's own multiple-choice task: a small YAML file over a JSONL file.

    name: my_quiz
    data: quiz.jsonl                      # relative to the YAML file
    context: "Question: {{question}}\\nAnswer:"
    choices: "{{options}}"                # a field holding a list, or a list of templates
    answer: "{{label}}"                   # the gold index, or the gold choice's text
    target_delimiter: " "                 # put between context and each choice (default " ")
    metrics: [acc, acc_norm]

Templates are Jinja2 over each JSON line's fields, as in lm-evaluation-harness task YAML,
rendered in Jinja2's immutable sandbox: a task file is data, and a template that reaches for
Python internals (`cycler.__init__.__globals__.os`, `''.__class__`) or mutates the data is
refused with a one-line error instead of run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateError, Undefined
from jinja2.nativetypes import NativeEnvironment
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import BaseModel, ConfigDict, field_validator

from melt.accuracy.scoring import METRICS
from melt.accuracy.tasks import ACC, MULTIPLE_CHOICE, Item, Task, multiple_choice
from melt.errors import MeltError
from melt.files import iter_jsonl, load_yaml, require_mapping, validate


class SandboxedNativeEnvironment(NativeEnvironment, ImmutableSandboxedEnvironment):
    """Native types (a lone `{{options}}` stays a list, `{{label}}` an int) with the
    immutable sandbox's checks on every attribute, item and call."""


_ENV = SandboxedNativeEnvironment(undefined=StrictUndefined)


class UserTaskConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    data: str
    context: str
    choices: str | list[str]
    answer: str
    target_delimiter: str = " "
    metrics: list[str] = [ACC]

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, value: list[str]) -> list[str]:
        allowed = METRICS[MULTIPLE_CHOICE]
        unknown = [m for m in value if m not in allowed]
        if unknown:
            raise ValueError(f"unknown metric {unknown[0]!r}; allowed: {', '.join(allowed)}")
        return value


def _render(template: str, doc: dict[str, Any], where: str) -> Any:
    try:
        value = _ENV.from_string(template).render(**doc)
        if isinstance(value, Undefined):  # a lone `{{field}}` renders to the field itself
            value._fail_with_undefined_error()
        return value
    except TemplateError as exc:
        raise MeltError(
            f"{where}: template {template!r} failed ({exc}); fix the task YAML"
        ) from None


def _item(config: UserTaskConfig, doc_id: int, doc: dict[str, Any], where: str) -> Item:
    context = str(_render(config.context, doc, where))
    if isinstance(config.choices, list):
        choices = [str(_render(c, doc, where)) for c in config.choices]
    else:
        rendered = _render(config.choices, doc, where)
        if not isinstance(rendered, list) or not rendered:
            raise MeltError(f"{where}: 'choices' must give a non-empty list (got {rendered!r})")
        choices = [str(c) for c in rendered]
    answer = _render(config.answer, doc, where)
    if isinstance(answer, int) and 0 <= answer < len(choices):
        gold = answer
    elif str(answer) in choices:
        gold = choices.index(str(answer))
    else:
        raise MeltError(
            f"{where}: answer {answer!r} is neither an index below {len(choices)} nor one of "
            "the choices; fix 'answer' in the task YAML or the data"
        )
    return multiple_choice(doc_id, context, choices, gold, config.target_delimiter)


def load_user_task(path: Path) -> Task:
    what = "task file"
    fix = "pass a built-in task name or a YAML path"
    where = f"{what} '{path}'"
    raw = require_mapping(load_yaml(path, what, fix), where)
    config = validate(UserTaskConfig, dict(raw), where)
    data = (path.parent / config.data).resolve()
    if not data.is_file():
        raise MeltError(f"{where}: data file '{data}' not found (fix 'data')")

    def load() -> list[Item]:
        items = []
        for line_no, doc in iter_jsonl(data, "task data file", f"fix 'data' in {path}"):
            place = f"{data}:{line_no}"
            if not isinstance(doc, dict):
                raise MeltError(
                    f"{place}: expected a JSON object of fields, got {type(doc).__name__}; "
                    "write one object per line"
                )
            items.append(_item(config, len(items), doc, place))
        if not items:
            raise MeltError(f"task data file '{data}' has no items (add one JSON object a line)")
        return items

    return Task(
        name=config.name,
        source=f"user task {path}",
        load=load,
        metrics=tuple(config.metrics),
        split=str(data),
    )
