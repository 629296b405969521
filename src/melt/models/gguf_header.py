"""The metadata key-values of a GGUF file, read straight from its header.

`gguf.GGUFReader` builds numpy views of every field and tensor (the tokenizer's 49k-entry
vocabulary included), which takes seconds to minutes; a report needs a handful of integers.
This reads the header sequentially with `struct`, keeps scalar and string values, and skips
arrays (strings by their lengths, fixed-size items by count × size). Layout: the GGUF spec
(ggml/docs/gguf.md): magic, version u32, tensor count u64, kv count u64, then per kv a
string key (u64 length + UTF-8), a u32 value type and the value.
"""

from __future__ import annotations

import mmap
import struct
from pathlib import Path
from typing import Any

MAGIC = b"GGUF"
SCALARS = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
STRING, ARRAY = 8, 9
U64 = struct.Struct("<Q")


class NotGguf(ValueError):
    pass


class _Cursor:
    """Sequential reads over the memory-mapped file."""

    def __init__(self, data: mmap.mmap) -> None:
        self.data = data
        self.offset = 0

    def read(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        if self.offset + size > len(self.data):
            raise NotGguf("truncated header")
        (value,) = struct.unpack_from(fmt, self.data, self.offset)
        self.offset += size
        return value

    def skip(self, size: int) -> None:
        if self.offset + size > len(self.data):
            raise NotGguf("truncated header")
        self.offset += size

    def string(self) -> str:
        size = self.read("<Q")
        start = self.offset
        self.skip(size)
        return bytes(self.data[start : self.offset]).decode("utf-8", errors="replace")

    def skip_array(self) -> None:
        kind, count = self.read("<I"), self.read("<Q")
        if kind == STRING:  # a vocabulary: tens of thousands of strings, one tight loop
            data, offset, length = self.data, self.offset, U64.unpack_from
            try:
                for _ in range(count):
                    offset += 8 + length(data, offset)[0]
            except struct.error:
                raise NotGguf("truncated header") from None
            if offset > len(data):
                raise NotGguf("truncated header")
            self.offset = offset
        elif kind == ARRAY:
            for _ in range(count):
                self.skip_array()
        elif kind in SCALARS:
            self.skip(count * struct.calcsize(SCALARS[kind]))
        else:
            raise NotGguf(f"unknown array item type {kind}")


def read_metadata(path: Path) -> dict[str, Any]:
    """Scalar and string metadata of a GGUF file (arrays left out). Raises `NotGguf` or
    `OSError`."""
    with path.open("rb") as fh:
        if fh.read(4) != MAGIC:
            raise NotGguf("not a GGUF file")
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            cursor = _Cursor(data)
            cursor.skip(4 + 4 + 8)  # magic, version, tensor count
            out: dict[str, Any] = {}
            for _ in range(cursor.read("<Q")):
                key = cursor.string()
                kind = cursor.read("<I")
                if kind == STRING:
                    out[key] = cursor.string()
                elif kind == ARRAY:
                    cursor.skip_array()
                elif kind in SCALARS:
                    out[key] = cursor.read(SCALARS[kind])
                else:
                    raise NotGguf(f"unknown value type {kind} of {key}")
            return out
