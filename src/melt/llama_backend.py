"""The llama.cpp library itself: initialised once, its log routed to `logging`.

Shared by `frameworks.llamacpp` (inference) and `models.quantize` (quantization), which
must not import each other. llama.cpp reports most failures only in its log, so the last
error line is kept for the one-line message a user sees.
"""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

log = logging.getLogger("melt.llama.cpp")

# ggml_log_level: NONE 0, DEBUG 1, INFO 2, WARN 3, ERROR 4, CONT 5.
_LOG_ERROR = 4

_state: dict[str, Any] = {"last_error": "", "capture": None}


def init_backend() -> None:
    """Initialise llama.cpp once and route its log lines to `logging` (debug level)."""
    if "callback" in _state:
        return
    import llama_cpp as llama

    @llama.llama_log_callback
    def forward(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        decoded = text.decode("utf-8", errors="replace")
        if _state["capture"] is not None:
            _state["capture"].append(decoded)
        line = decoded.rstrip()
        if level == _LOG_ERROR and line:
            _state["last_error"] = line
        log.debug("%s", line)

    _state["callback"] = forward  # keep the ctypes callback alive
    llama.llama_log_set(forward, ctypes.c_void_p(0))
    llama.llama_backend_init()


@contextmanager
def captured_log() -> Iterator[list[str]]:
    """llama.cpp's log lines (every level) while the block runs, e.g. a model's load report
    ("offloaded 31/31 layers to GPU"); the list is filled when the block ends."""
    init_backend()
    pieces: list[str] = []
    _state["capture"] = pieces
    lines: list[str] = []
    try:
        yield lines
    finally:
        _state["capture"] = None
        lines.extend("".join(pieces).splitlines())


def take_last_error() -> str:
    """The last error line llama.cpp logged since the previous call, or ''."""
    line = str(_state["last_error"])
    _state["last_error"] = ""
    return line
