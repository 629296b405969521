"""What every inference framework provides, and the registry that finds them by name."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

from melt.config import RunSettings
from melt.errors import MeltError
from melt.models import Artifact
from melt.traces import LoadTrace, TurnTrace
from melt.workloads import Conversation


class Engine(Protocol):
    """A model loaded by a framework, ready to serve conversations."""

    load: LoadTrace

    def tokenize(self, text: str) -> list[int]: ...

    def chat_prompt_tokens(self, user_turns: Sequence[str]) -> int:
        """Prompt length in tokens of a chat holding these user turns, ready to answer."""
        ...

    def converse(
        self, conversation: Conversation, conversation_index: int, *, warmup: bool = False
    ) -> Iterator[TurnTrace]:
        """Replay a conversation turn by turn, from a clean state, yielding one trace each."""
        ...

    def close(self) -> None: ...


class Framework(Protocol):
    name: str

    def version(self) -> str: ...

    def system_info(self) -> str: ...

    def load(self, artifact: Artifact, settings: RunSettings) -> Engine: ...

    def tokenizer(self, artifact: Artifact) -> Callable[[str], list[int]]:
        """A tokenizer for the artifact that loads no weights (for workload statistics)."""
        ...


_REGISTRY: dict[str, Callable[[], Framework]] = {}
_MODULES = {"llama.cpp": "melt.frameworks.llamacpp"}


def register_framework(name: str) -> Callable[[type], type]:
    def decorator(cls: type) -> type:
        _REGISTRY[name] = cls
        return cls

    return decorator


def get_framework(name: str) -> Framework:
    if name not in _REGISTRY and name in _MODULES:
        importlib.import_module(_MODULES[name])
    if name not in _REGISTRY:
        known = ", ".join(sorted(_MODULES))
        raise MeltError(f"unknown framework '{name}' (known: {known})")
    return _REGISTRY[name]()
