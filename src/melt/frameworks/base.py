"""What every inference framework provides, and the registry that finds them by name."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Protocol

from melt.errors import MeltError
from melt.traces import LoadTrace, TurnTrace

if TYPE_CHECKING:  # the runner on a device has no pydantic: keep these out of its imports
    from melt.config import RunSettings
    from melt.frameworks.llama_server.host import ServerHost
    from melt.models import Artifact
    from melt.workloads import Conversation


@dataclass(frozen=True, slots=True)
class FrameworkOptions:
    """Flags that only some frameworks take (`--endpoint`, `--server-binary`, ...).

    A framework lists the ones it uses in its `options` class attribute and receives them in
    its constructor; `get_framework` rejects a flag given to a framework that ignores it.
    `device` is not a flag: it is where a framework that starts its own process (llama-server)
    runs it (the device side its runner gives it); None outside a runner.
    """

    endpoint: str | None = None
    api_model: str | None = None
    api_key_env: str | None = None
    server_binary: str | None = None
    device: ServerHost | None = None

    def given_flags(self) -> list[str]:
        """The user-facing flags set here, as `--endpoint` etc."""
        return [
            "--" + f.name.replace("_", "-")
            for f in fields(self)
            if f.name != "device" and getattr(self, f.name) is not None
        ]


class Engine(Protocol):
    """A model loaded by a framework, ready to serve conversations."""

    load: LoadTrace

    def chat_prompt_tokens(self, user_turns: Sequence[str]) -> int | None:
        """Prompt length in tokens of a chat holding these user turns, ready to answer;
        None when the engine cannot tell (a remote server without a tokenizer endpoint)."""
        ...

    def converse(
        self, conversation: Conversation, conversation_index: int, *, warmup: bool = False
    ) -> Iterator[TurnTrace]:
        """Replay a conversation turn by turn, from a clean state, yielding one trace each."""
        ...

    def close(self) -> None: ...


# Tokens of the chat prompt holding these user turns; None when the framework cannot tell.
PromptCounter = Callable[[Sequence[str]], int | None]


class Framework(Protocol):
    """An inference framework. `FrameworkDefaults` gives `variant` and `prompt_counter` to
    a framework with nothing of its own for them, so every framework has all of these."""

    name: str

    def version(self) -> str: ...

    def system_info(self) -> str: ...

    def load(self, artifact: Artifact, settings: RunSettings) -> Engine: ...

    def variant(self, spec: str, quant: str | None, on_step: Callable[[str], None]) -> Artifact:
        """The artifact this framework runs for a model spec and an optional variant name
        (a GGUF quantization for llama.cpp, an export precision for ONNX Runtime GenAI),
        made and cached on first use, saying so through `on_step`."""
        ...

    def tokenizer(self, artifact: Artifact) -> Callable[[str], list[int]]:
        """A tokenizer for the artifact that loads no weights (for workload statistics)."""
        ...

    def prompt_counter(self, artifact: Artifact) -> PromptCounter | None:
        """Tokens of the chat prompt holding these user turns, ready to answer, counted
        without loading weights (the fit check runs before anything is measured); the
        count is None when the framework cannot tell (a server without a tokenizer). No
        counter at all (None) when the framework has no weight-free tokenizer: the caller
        counts with a loaded engine (`Engine.chat_prompt_tokens`)."""
        ...


class FrameworkDefaults:
    """What a framework with nothing of its own for them does: it runs the zoo's GGUF
    variants (a llama.cpp quantization, made and cached on first use), and has no
    weight-free prompt counter."""

    def variant(self, spec: str, quant: str | None, on_step: Callable[[str], None]) -> Artifact:
        from melt.models import resolve_variant

        return resolve_variant(spec, quant, on_step)

    def prompt_counter(self, artifact: Artifact) -> PromptCounter | None:
        return None


_REGISTRY: dict[str, type] = {}
_MODULES = {
    "llama.cpp": "melt.frameworks.llamacpp",
    "openai-http": "melt.frameworks.openai.framework",
    "llama-server": "melt.frameworks.llama_server.framework",
    "onnxruntime-genai": "melt.frameworks.ort_genai",
}


def register_framework(name: str) -> Callable[[type], type]:
    def decorator(cls: type) -> type:
        _REGISTRY[name] = cls
        return cls

    return decorator


def get_framework(name: str, options: FrameworkOptions | None = None) -> Framework:
    """The framework registered as `name`, given the options it takes (see
    `FrameworkOptions`); a flag it does not take is a user error."""
    if name not in _REGISTRY and name in _MODULES:
        importlib.import_module(_MODULES[name])
    if name not in _REGISTRY:
        known = ", ".join(sorted(_MODULES))
        raise MeltError(f"unknown framework '{name}' (known: {known})")
    cls = _REGISTRY[name]
    options = options or FrameworkOptions()
    taken = getattr(cls, "options", frozenset())
    ignored = [flag for flag in options.given_flags() if flag[2:].replace("-", "_") not in taken]
    if ignored:
        raise MeltError(
            f"{', '.join(ignored)} does not apply to --framework {name} "
            "(drop the flag or choose the framework it is for)"
        )
    return cls(options) if taken else cls()
