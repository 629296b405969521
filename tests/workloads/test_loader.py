from collections.abc import Callable
from pathlib import Path

import pytest

from melt.errors import MeltError
from melt.workloads import Conversation, Workload, load_workload


def test_melt_format(workload_file: Callable[..., Path]) -> None:
    w = load_workload(workload_file([["hi", "how are you?"], ["one more"]]))
    assert w.format == "melt"
    assert [c.turns for c in w.conversations] == [("hi", "how are you?"), ("one more",)]
    assert w.n_turns == 3


def test_chat_format_replays_user_turns_only(workload_file: Callable[..., Path]) -> None:
    conv = {
        "id": "trip",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "plan a trip"},
            {"role": "assistant", "content": "sure: ..."},
            {"role": "user", "content": "shorter"},
        ],
    }
    w = load_workload(workload_file([conv]))
    assert w.format == "chat"
    assert w.conversations[0].id == "trip"
    assert w.conversations[0].turns == ("plan a trip", "shorter")


def test_chat_jsonl(workload_file: Callable[..., Path]) -> None:
    text = (
        '{"messages": [{"role": "user", "content": "a"}]}\n'
        '{"messages": [{"role": "user", "content": "b"}]}\n'
    )
    w = load_workload(workload_file(text, "w.jsonl"))
    assert w.format == "chat-jsonl"
    assert [c.turns for c in w.conversations] == [("a",), ("b",)]


def test_sha_identifies_content(workload_file: Callable[..., Path]) -> None:
    a = load_workload(workload_file([["x", "y"]], "a.json"))
    b = load_workload(workload_file('[\n  ["x", "y"]\n]', "b.json"))
    c = load_workload(workload_file([["x", "z"]], "c.json"))
    assert a.sha256 == b.sha256 != c.sha256


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[["a", "b"],\n ["c", ]\n]', "line 2 column"),
        ("[]", "holds no conversations"),
        ('{"a": 1}', "top level must be a list"),
        ('[["ok"], 5]', "conversation [1]"),
        ('[["ok", 3]]', "conversation [0] turn [1]"),
        ("[[]]", "has no prompts"),
        ('[{"messages": "hi"}]', "field 'messages'"),
        ('[{"messages": [{"role": "user"}]}]', "messages[0]"),
        ('[{"messages": [{"role": "robot", "content": "x"}]}]', "messages[0].role"),
        ('[{"messages": [{"role": "assistant", "content": "x"}]}]', "no user messages"),
        ('{"messages": []}\n{"messages": [\n', "line 2"),
    ],
)
def test_malformed_files_name_the_place(
    workload_file: Callable[..., Path], content: str, message: str
) -> None:
    with pytest.raises(MeltError, match=None) as info:
        load_workload(workload_file(content))
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(MeltError, match="not found"):
        load_workload(tmp_path / "nope.json")
    with pytest.raises(MeltError, match="is a directory"):
        load_workload(tmp_path)
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(MeltError, match="not UTF-8"):
        load_workload(binary)


def test_warmup_takes_the_first_turns_in_order(workload_file: Callable[..., Path]) -> None:
    w = load_workload(workload_file([["a", "b"], ["c", "d", "e"]]))
    warm = w.warmup(3)
    assert [c.turns for c in warm] == [("a", "b"), ("c",)]
    assert w.warmup(0) == ()


def test_warmup_never_counts_more_turns_than_the_workload_holds() -> None:
    w = Workload("w", (Conversation("a", ("1",)), Conversation("b", ("2",))), "test", "melt")
    assert [w.warmup_turns(n) for n in (0, 1, 2, 100)] == [0, 1, 2, 2]
    assert sum(len(c.turns) for c in w.warmup(100)) == w.warmup_turns(100) == 2
