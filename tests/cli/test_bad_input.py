"""Every user mistake: one line on stderr, exit status 2, no traceback, nothing lost."""

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from melt.models import Artifact

FAST = ("--max-new-tokens", "4", "--conversations", "1", "--warmup", "0")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("store") / "melt.db"


def runs_in(store: Path) -> int:
    if not store.exists():
        return 0
    with sqlite3.connect(store) as db:
        return db.execute("select count(*) from runs").fetchone()[0]


def bad_inputs(tmp: Path, bundled: Artifact) -> dict[str, tuple[list[str], str]]:
    (tmp / "notes.gguf").write_text("not a model")
    (tmp / "trunc.gguf").write_bytes(bundled.path.read_bytes()[: 5 * 1024 * 1024])
    (tmp / "broken.json").write_text('[["hi",\n  "there"\n  oops]]')
    (tmp / "empty.json").write_text("[]")
    (tmp / "long.json").write_text(json.dumps([["word " * 300]]))
    (tmp / "text.db").write_text("my notes")
    (tmp / "blocker").write_text("a file, not a directory")
    return {
        "missing model": (["--model", str(tmp / "nope.gguf")], "not found"),
        "not gguf": (["--model", str(tmp / "notes.gguf")], "is not a GGUF file"),
        "truncated gguf": (["--model", str(tmp / "trunc.gguf")], "truncated"),
        "unknown name": (["--model", "llama-9000"], "unknown model 'llama-9000'"),
        "zero max new": (["--max-new-tokens", "0"], "--max-new-tokens"),
        "negative threads": (["--threads", "-2"], "--threads"),
        "ctx too small": (["--workload", str(tmp / "long.json"), "--ctx", "128"], "--ctx 128"),
        "malformed workload": (["--workload", str(tmp / "broken.json")], "line 3"),
        "unreadable workload": (["--workload", str(tmp / "missing.json")], "not found"),
        "empty workload": (["--workload", str(tmp / "empty.json")], "no conversations"),
        "unwritable store": (["--store", str(tmp / "blocker" / "x.db")], "cannot create"),
        "store not melt": (["--store", str(tmp / "text.db")], "not a melt results database"),
    }


CASES = [
    "missing model",
    "not gguf",
    "truncated gguf",
    "unknown name",
    "zero max new",
    "negative threads",
    "ctx too small",
    "malformed workload",
    "unreadable workload",
    "empty workload",
    "unwritable store",
    "store not melt",
]


@pytest.mark.parametrize("case", CASES)
def test_bad_input(
    case: str, melt: Callable[..., object], tmp_path: Path, bundled: Artifact, store: Path
) -> None:
    args, expected = bad_inputs(tmp_path, bundled)[case]
    if "--store" not in args:
        args = [*args, "--store", str(store)]
    before = runs_in(store)
    r = melt("bench", *FAST, *args)
    assert r.code == 2
    lines = r.err.strip().splitlines()
    assert len(lines) == 1, r.err
    assert lines[0].startswith("melt: error: ")
    assert expected in lines[0]
    assert "Traceback" not in r.err
    assert runs_in(store) == before
    if case == "store not melt":
        assert (tmp_path / "text.db").read_text() == "my notes"


def test_usage_errors_are_one_line_too(melt: Callable[..., object]) -> None:
    r = melt("bench", "--threads", "many")
    assert r.code == 2
    assert r.err.strip().startswith("melt: error: ") and len(r.err.strip().splitlines()) == 1
