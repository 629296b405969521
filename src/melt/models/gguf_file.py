"""Checks and facts about a GGUF file, read with the `gguf` package.

`validate_gguf` turns every way a user can hand us a bad file (missing, not GGUF,
truncated) into a one-line `MeltError` before llama.cpp sees it: llama.cpp would only log
to stderr and return NULL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from melt.errors import MeltError

GGUF_MAGIC = b"GGUF"


def _reader(path: Path) -> Any:
    from gguf import GGUFReader

    return GGUFReader(path)


def validate_gguf(path: Path) -> Any:
    """Return a `GGUFReader` over `path`, or raise `MeltError` saying what is wrong."""
    if not path.exists():
        raise MeltError(
            f"model file '{path}' not found "
            "(pass --model PATH to a .gguf file or a name from 'melt models list')"
        )
    if not path.is_file():
        raise MeltError(f"model path '{path}' is not a file (pass --model PATH to a .gguf file)")
    with path.open("rb") as fh:
        magic = fh.read(4)
    if magic != GGUF_MAGIC:
        raise MeltError(
            f"model file '{path}' is not a GGUF file (it starts with {magic!r}, not b'GGUF'); "
            "convert it to GGUF first"
        )
    try:
        reader = _reader(path)
    except Exception as exc:  # the gguf package raises many types on corrupt headers
        raise MeltError(
            f"model file '{path}' is a corrupt or truncated GGUF ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else 'unreadable header'}); "
            "download or convert it again"
        ) from None
    size = path.stat().st_size
    end = max((t.data_offset + int(t.n_bytes) for t in reader.tensors), default=0)
    if end > size:
        raise MeltError(
            f"model file '{path}' is truncated: its tensors need {end} bytes but the file has "
            f"{size}; download or convert it again"
        )
    return reader


def field_value(reader: Any, key: str, default: Any = None) -> Any:
    """A metadata value from a GGUF reader, or `default` when the key is absent."""
    field = reader.fields.get(key)
    if field is None:
        return default
    return field.contents()


def quant_name(reader: Any) -> str:
    """The file type llama.cpp recorded (`general.file_type`), e.g. ``Q4_1``."""
    from gguf import LlamaFileType

    file_type = field_value(reader, "general.file_type")
    if file_type is None:
        return "unknown"
    try:
        return LlamaFileType(int(file_type)).name.removeprefix("MOSTLY_").removeprefix("ALL_")
    except ValueError:
        return f"file_type_{file_type}"


def n_params(path: Path) -> int:
    """The model's parameters: the elements of every tensor in the file (what llama.cpp's
    `llama_model_n_params` counts), read from the header without loading the weights."""
    reader = validate_gguf(path)
    return sum(int(t.n_elements) for t in reader.tensors)
