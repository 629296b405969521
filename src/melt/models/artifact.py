"""A model artifact: one file on disk, what it holds, and where it came from."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

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


def cache_dir() -> Path:
    """melt's cache directory: `MELT_CACHE`, else ~/.cache/melt."""
    return Path(os.environ.get("MELT_CACHE", Path.home() / ".cache" / "melt")).expanduser()


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, remembered per (path, size, mtime) so a 4 GB model is hashed
    once, not on every run; a changed file has a new size or mtime and is hashed again."""
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    index_path = cache_dir() / "sha256.json"
    try:
        index = json.loads(index_path.read_text())
    except (OSError, ValueError):
        index = {}
    if key in index:
        return str(index[key])
    digest = _hash_file(path)
    index[key] = digest
    try:
        index_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = index_path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(index, indent=0))
        tmp.replace(index_path)
    except OSError as exc:
        log.debug("could not remember the sha256 of %s: %s", path, exc)
    return digest


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()
