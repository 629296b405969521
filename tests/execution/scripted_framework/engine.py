"""The scripted framework's code: a fixed number of tokens per turn at real clock readings,
and whatever its `SCRIPT` says at a chosen turn or load (raise, send this process a signal)."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from melt.config import RunSettings
from melt.config.settings import FrameworkSettings
from melt.frameworks.base import FrameworkDefaults
from melt.models import Artifact
from melt.traces import LoadTrace, TurnTrace
from melt.workloads import Conversation

NAME = "scripted"
TOKENS_PER_TURN = 4


@dataclass
class Script:
    """What the fake engine does, set by each test (reset by the `fake` fixture)."""

    fail_loads: set[int] = field(default_factory=set)  # these loads (1-based) fail at turn 1
    error: Callable[[], BaseException] = lambda: RuntimeError("fake engine failed")
    raise_at_turn: int | None = None  # every load raises `error` at this turn (1-based)
    signal_on_close: int | None = None  # close() sends this process this signal
    loads: int = 0
    closed: int = 0


SCRIPT = Script()


class ScriptedSettings(FrameworkSettings):
    framework: Literal["scripted"] = "scripted"


class ScriptedFramework(FrameworkDefaults):
    name = NAME

    def version(self) -> str:
        return "scripted 1.0"

    def system_info(self) -> str:
        return "scripted engine (tests)"

    def variant(self, spec: str, quant: str | None, on_step: Callable[[str], None]) -> Artifact:
        path = Path(os.environ["MELT_CACHE"]) / f"{spec}.scripted"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(spec.encode())
        digest = hashlib.sha256(spec.encode()).hexdigest()
        return Artifact(spec, path, "scripted", quant or "none", digest, path.stat().st_size)

    def tokenizer(self, artifact: Artifact) -> Callable[[str], list[int]]:
        return lambda text: list(range(len(text.split())))

    def prompt_counter(self, artifact: Artifact) -> Callable[[Sequence[str]], int | None]:
        return lambda turns: sum(len(t.split()) for t in turns) + 3

    def load(self, artifact: Artifact, settings: RunSettings) -> ScriptedEngine:
        SCRIPT.loads += 1
        return ScriptedEngine(settings, SCRIPT.loads)


class ScriptedEngine:
    def __init__(self, settings: RunSettings, load_number: int) -> None:
        self.settings = settings
        self.load_number = load_number
        self.turns = 0
        self.load = LoadTrace(
            load_ns=1_000_000,
            model_bytes=1000,
            model_params=2000,
            rss_before_bytes=None,
            rss_after_bytes=None,
            context_tokens=settings.ctx,
        )

    def tokenize(self, text: str) -> list[int]:
        return list(range(len(text.split())))

    def chat_prompt_tokens(self, user_turns: Sequence[str]) -> int | None:
        return sum(len(t.split()) for t in user_turns) + 3

    def converse(
        self, conversation: Conversation, conversation_index: int, *, warmup: bool = False
    ) -> Iterator[TurnTrace]:
        for turn_index, text in enumerate(conversation.turns):
            self.turns += 1
            if self.load_number in SCRIPT.fail_loads and self.turns == 1:
                raise SCRIPT.error()
            if SCRIPT.raise_at_turn == self.turns:
                raise SCRIPT.error()
            submit = time.monotonic_ns()
            tokens = tuple(time.monotonic_ns() for _ in range(TOKENS_PER_TURN))
            yield TurnTrace(
                conversation_index=conversation_index,
                turn_index=turn_index,
                warmup=warmup,
                wall_anchor_ns=time.time_ns(),
                submit_ns=submit,
                prefill_start_ns=submit,
                prefill_done_ns=tokens[0],
                token_ns=tokens,
                end_ns=time.monotonic_ns(),
                prompt_tokens=len(text.split()) + 3,
                prompt_tokens_evaluated=len(text.split()) + 3,
                prompt_tokens_reused=0,
                stop_reason="max_new_tokens",
                output_text="ok " * TOKENS_PER_TURN,
            )

    def close(self) -> None:
        SCRIPT.closed += 1
        if SCRIPT.signal_on_close is not None:
            os.kill(os.getpid(), SCRIPT.signal_on_close)
