"""Read conversation files in the formats people already have.

* MELT's format: a JSON list of conversations, each a list of user prompt strings.
* Chat format: a JSON list (or JSON Lines) of objects with ``messages: [{role, content}]``;
  user turns are replayed and assistant/system turns are ignored, as the benchmark
  generates its own replies.

Every error names the file and the line or field, and says what was expected.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from melt.errors import MeltError
from melt.workloads.builtin import BUILTIN_WORKLOAD, builtin_workload_path
from melt.workloads.conversation import Conversation, Workload

WHAT = "workload file"
BENCH_FIX = "pass --workload FILE"


def load_workload(spec: str | Path, fix: str = BENCH_FIX) -> Workload:
    """Load the built-in workload (``builtin:chat``) or a conversation file; `fix` is what
    the user does when the file is missing (how the command takes it)."""
    if str(spec) == BUILTIN_WORKLOAD:
        workload = _load_file(builtin_workload_path(), fix)
        return Workload(BUILTIN_WORKLOAD, workload.conversations, BUILTIN_WORKLOAD, workload.format)
    return _load_file(Path(spec), fix)


def _parse(path: Path, text: str) -> tuple[list[Any], str]:
    from melt.files import json_error, parse_jsonl  # lazily: see _load_file

    try:
        return _as_list(path, json.loads(text)), "json"
    except json.JSONDecodeError as exc:
        lines = [line for line in text.splitlines() if line.strip()]
        if exc.lineno > 1 and lines and lines[0].lstrip().startswith("{"):
            return [record for _, record in parse_jsonl(text, path, WHAT)], "jsonl"
        raise MeltError(json_error(exc, path, WHAT)) from None


def _as_list(path: Path, data: Any) -> list[Any]:
    if isinstance(data, dict) and isinstance(data.get("conversations"), list):
        return data["conversations"]
    if not isinstance(data, list):
        raise MeltError(
            f"workload file '{path}': top level must be a list of conversations, "
            f"got {type(data).__name__}"
        )
    return data


def _load_file(path: Path, fix: str) -> Workload:
    # melt.files needs pydantic and PyYAML, which a device running melt's runner lacks;
    # the runner imports this package (for Conversation), never this function
    from melt.files import read_text_file

    items, syntax = _parse(path, read_text_file(path, WHAT, fix))
    if not items:
        raise MeltError(f"workload file '{path}' holds no conversations (add at least one)")
    conversations = []
    formats = set()
    for index, item in enumerate(items):
        if isinstance(item, list):
            formats.add("melt")
            conversations.append(_melt_conversation(path, index, item))
        elif isinstance(item, dict):
            formats.add("chat")
            conversations.append(_chat_conversation(path, index, item))
        else:
            raise MeltError(
                f"workload file '{path}' conversation [{index}]: expected a list of prompt "
                f"strings or an object with 'messages', got {type(item).__name__}"
            )
    fmt = "+".join(sorted(formats)) + ("-jsonl" if syntax == "jsonl" else "")
    return Workload(path.stem, tuple(conversations), str(path), fmt)


def _melt_conversation(path: Path, index: int, item: list[Any]) -> Conversation:
    if not item:
        raise MeltError(f"workload file '{path}' conversation [{index}]: has no prompts")
    for turn, prompt in enumerate(item):
        if not isinstance(prompt, str) or not prompt.strip():
            raise MeltError(
                f"workload file '{path}' conversation [{index}] turn [{turn}]: "
                f"expected a non-empty prompt string, got {prompt!r:.40}"
            )
    return Conversation(id=f"conv-{index}", turns=tuple(item))


def _chat_conversation(path: Path, index: int, item: dict[str, Any]) -> Conversation:
    where = f"workload file '{path}' conversation [{index}]"
    messages = item.get("messages")
    if not isinstance(messages, list):
        raise MeltError(f"{where}: field 'messages' must be a list of {{role, content}} objects")
    turns = []
    for m, message in enumerate(messages):
        if not isinstance(message, dict) or "role" not in message or "content" not in message:
            raise MeltError(f"{where} messages[{m}]: expected an object with 'role' and 'content'")
        role, content = message["role"], message["content"]
        if role not in ("system", "user", "assistant", "tool"):
            raise MeltError(
                f"{where} messages[{m}].role: unknown role {role!r} "
                "(expected system, user, assistant or tool)"
            )
        if not isinstance(content, str):
            raise MeltError(f"{where} messages[{m}].content: expected a string")
        if role == "user":
            if not content.strip():
                raise MeltError(f"{where} messages[{m}].content: empty user message")
            turns.append(content)
    if not turns:
        raise MeltError(f"{where}: has no user messages to replay")
    conv_id = str(item.get("id", f"conv-{index}"))
    return Conversation(id=conv_id, turns=tuple(turns), title=str(item.get("title", "")))
