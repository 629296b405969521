"""Render a chat with the model's own template (the Jinja text stored in the GGUF).

Rendering follows Hugging Face's conventions (trim_blocks, lstrip_blocks, a sandboxed
environment, `raise_exception`), which is how the template's authors tested it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


class ChatTemplate:
    def __init__(self, source: str, bos_token: str = "", eos_token: str = "") -> None:
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        env.globals["raise_exception"] = _raise
        env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
        self.source = source
        self._template = env.from_string(source)
        self._bos = bos_token
        self._eos = eos_token

    def render(self, messages: Sequence[dict[str, str]], add_generation_prompt: bool = True) -> str:
        context: dict[str, Any] = {
            "messages": list(messages),
            "add_generation_prompt": add_generation_prompt,
            "bos_token": self._bos,
            "eos_token": self._eos,
        }
        return self._template.render(**context)


def _raise(message: str) -> None:
    raise ValueError(f"chat template error: {message}")
