"""`melt bench --framework openai-http` against a server that says the impossible: counts
that contradict what melt observed, malformed events, broken model listings; and the run's
model is the one the server serves, not the bundled one (issue 24, items 2 and 3)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.fixtures.openai_server import MODEL, Script, openai_server, reply_events

from melt.models import Artifact

MAX_NEW = 8


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    with openai_server() as running:
        yield running


def _bench(melt: Callable[..., Any], url: str, store: Path, *extra: str) -> Any:
    return melt(
        "bench", "--framework", "openai-http", "--endpoint", url,
        "--max-new-tokens", str(MAX_NEW), "--conversations", "1", "--warmup", "0",
        "--store", str(store), *extra,
    )  # fmt: skip


def _rows(db: Path, sql: str) -> list[dict[str, Any]]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(sql)]


@pytest.mark.parametrize(
    ("final", "refused"),
    [
        ({"timings": {"predicted_n": 2_000_000, "predicted_ms": 5.0}}, "timings.predicted_n"),
        ({"usage": {"completion_tokens": 1_000_000}}, "usage.completion_tokens"),
        ({"timings": {"predicted_n": -3, "predicted_ms": 5.0}}, "timings.predicted_n"),
    ],
)
def test_a_generated_count_past_what_was_observed_is_refused_not_stored(
    melt: Callable[..., Any],
    server: tuple[str, Script],
    tmp_path: Path,
    final: dict[str, Any],
    refused: str,
) -> None:
    url, script = server
    script.events = reply_events("Paris", **final)
    db = tmp_path / "melt.db"
    result = _bench(melt, url, db)
    assert result.code == 0, result.err
    turns = _rows(db, "select * from turns")
    assert turns
    for turn in turns:
        assert turn["generated_tokens"] == len("Paris")  # one token per event with text
        assert turn["decode_tok_per_s"] is None or turn["decode_tok_per_s"] < 1e6
        timers = json.loads(turn["engine_timers"])
        assert refused in timers["refused"]


def test_negative_prompt_counts_are_unknown_not_negative(
    melt: Callable[..., Any], server: tuple[str, Script], tmp_path: Path
) -> None:
    url, script = server
    timings = {"predicted_n": 5, "predicted_ms": 4.0, "prompt_n": -7, "cache_n": -2}
    script.events = reply_events("Paris", timings=timings, usage={"prompt_tokens": -4})
    db = tmp_path / "melt.db"
    assert _bench(melt, url, db).code == 0
    for turn in _rows(db, "select * from turns"):
        counts = (
            turn["prompt_tokens"],
            turn["prompt_tokens_evaluated"],
            turn["prompt_tokens_reused"],
        )
        assert counts == (None, None, None)
        assert turn["generated_tokens"] == 5
        assert "timings.prompt_n" in json.loads(turn["engine_timers"])["refused"]


@pytest.mark.parametrize(
    ("event", "says"),
    [
        ({"choices": [1, 2, 3]}, "choices[0] is an integer (1), not an object"),
        ({"choices": "abc"}, "choices is a string ('abc'), not a list"),
        (
            {"choices": [], "timings": {"predicted_n": "many"}},
            "timings.predicted_n is a string ('many'), not an integer",
        ),
        (
            {"choices": [{"delta": {"content": 12345}}]},
            "choices[0].delta.content is an integer (12345), not a string",
        ),
    ],
)
def test_a_malformed_event_is_a_one_line_error_saying_what_the_server_sent(
    melt: Callable[..., Any],
    server: tuple[str, Script],
    tmp_path: Path,
    event: dict[str, Any],
    says: str,
) -> None:
    url, script = server
    script.events = [event]
    db = tmp_path / "melt.db"
    result = _bench(melt, url, db)
    assert result.code != 0
    (run,) = _rows(db, "select * from runs")
    assert run["status"] == "failed"
    assert "sent a malformed event" in run["error"] and says in run["error"]
    for name in ("AttributeError", "ValueError", "TypeError", "Traceback"):
        assert name not in run["error"] and name not in result.err


def test_the_run_is_filed_under_the_served_model_with_no_sha256_melt_cannot_check(
    melt: Callable[..., Any], server: tuple[str, Script], tmp_path: Path, bundled: Artifact
) -> None:
    url, script = server
    script.events = reply_events("Paris", usage={"prompt_tokens": 9, "completion_tokens": 5})
    db = tmp_path / "melt.db"
    assert _bench(melt, url, db).code == 0
    (run,) = _rows(db, "select * from runs")
    assert run["model_name"] == MODEL
    assert run["model_sha256"] == "" and run["model_sha256"] != bundled.sha256
    assert run["model_quant"] == "unknown"
    assert script.requests[-1]["model"] == MODEL


@pytest.mark.parametrize(
    ("status", "body", "headers", "says"),
    [
        (500, {"error": {"message": "model store offline"}}, {}, "HTTP 500: model store offline"),
        (200, "<html><body>Welcome</body></html>", {"Content-Type": "text/html"}, "HTML page"),
        (302, "", {"Location": "http://login.example/"}, "redirect to http://login.example/"),
    ],
)
def test_a_broken_model_listing_is_reported_as_what_the_server_answered(
    melt: Callable[..., Any],
    server: tuple[str, Script],
    tmp_path: Path,
    status: int,
    body: Any,
    headers: dict[str, str],
    says: str,
) -> None:
    url, script = server
    script.models_status, script.models_body, script.models_headers = status, body, headers
    result = _bench(melt, url, tmp_path / "melt.db")
    assert result.code == 2
    assert says in result.err and "lists none" not in result.err
    assert result.err.strip().count("\n") == 0


def test_an_endpoint_that_is_not_a_url_is_one_line(melt: Callable[..., Any]) -> None:
    result = melt("bench", "--framework", "openai-http", "--endpoint", "http://[::1/v1")
    assert result.code == 2
    assert "--endpoint 'http://[::1/v1' is not a valid URL" in result.err
    assert "Traceback" not in result.err and result.err.strip().count("\n") == 0
