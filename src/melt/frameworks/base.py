"""What every inference framework provides, and the registry that finds them by name."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Protocol

from melt.compute import ComputeDevice
from melt.errors import MeltError
from melt.traces import LoadTrace, TurnTrace

if TYPE_CHECKING:  # the runner on a device has no pydantic: keep these out of its imports
    from melt.config import RunSettings
    from melt.frameworks.llama_server.host import ServerHost
    from melt.models import Artifact
    from melt.workloads import Conversation


class FrameworkOptions:
    """The options (`--endpoint`, `--server-binary`, ...) given to a framework, by name.

    Each framework declares the ones it takes (`registry.Declaration.options`) and reads them
    as attributes (`options.endpoint`; None when not given); `get_framework` rejects an
    option given to a framework that does not take it. `device` is not an option: it is where
    a framework that starts its own process (llama-server) runs it (the device side its
    runner gives it, a `ServerHost`); None outside a runner.
    """

    __slots__ = ("device", "values")

    def __init__(self, device: ServerHost | None = None, **values: str | None) -> None:
        self.device = device
        self.values: dict[str, str] = {k: v for k, v in values.items() if v is not None}

    def __getattr__(self, name: str) -> str | None:
        if name.startswith("_"):
            raise AttributeError(name)
        return self.values.get(name)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FrameworkOptions) and (self.device, self.values) == (
            other.device,
            other.values,
        )

    def __repr__(self) -> str:
        return f"FrameworkOptions(device={self.device!r}, **{self.values!r})"

    def __getstate__(self) -> tuple[ServerHost | None, dict[str, str]]:
        return self.device, self.values

    def __setstate__(self, state: tuple[ServerHost | None, dict[str, str]]) -> None:
        self.device, self.values = state

    def on(self, device: ServerHost) -> FrameworkOptions:
        """The same options for a framework running on `device`."""
        return FrameworkOptions(device, **self.values)


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


def compute_devices(framework: Framework) -> tuple[ComputeDevice, ...]:
    """The compute devices the framework's build can use on its device (an optional method,
    `compute_devices`, of the frameworks that can tell: llama.cpp's backend registry,
    llama-server's `--list-devices`, ONNX Runtime's execution providers)."""
    listing = getattr(framework, "compute_devices", None)
    if listing is None:
        raise MeltError(
            f"{framework.name} cannot list compute devices (melt does not start its server)"
        )
    return tuple(listing())


def get_framework(name: str, options: FrameworkOptions | None = None) -> Framework:
    """The framework registered as `name` (frameworks/registry.py), given the options it
    declares; an option it does not take is a user error."""
    from melt.frameworks.registry import declaration

    spec = declaration(name)
    options = options or FrameworkOptions()
    taken = {option.name for option in spec.options}
    ignored = [f"--{k.replace('_', '-')}" for k in options.values if k not in taken]
    if ignored:
        raise MeltError(
            f"{', '.join(ignored)} does not apply to --framework {name} "
            "(drop the flag or choose the framework it is for)"
        )
    cls = spec.framework_class()
    return cls(options) if taken else cls()
