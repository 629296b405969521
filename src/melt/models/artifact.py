"""A model artifact: one file on disk, what it holds, and where it came from."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

_HASH_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class Origin:
    """Provenance of an artifact: which source gave it, which tool made it, from what."""

    source: str
    tool: str = ""
    tool_version: str = ""
    parent_sha256: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True)
class Artifact:
    """A model file identified by content: two artifacts with one sha256 are one model."""

    name: str
    path: Path
    format: str
    quant: str
    sha256: str
    size_bytes: int
    origin: Origin = field(default_factory=lambda: Origin(source="file"))


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()
