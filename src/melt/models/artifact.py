"""A model artifact: one file (or one folder) on disk, what it holds, and where it came from."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
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
    # The quantization of the lossy file every weight descends from, when no higher-precision
    # source existed (the bundled model is Q4_1): its variants are re-quantized from it.
    requantized_from: str = ""

    def describe(self) -> str:
        """One human line: where the file came from, and what bounds its precision."""
        text = self.source
        if self.parent_sha256:
            text += f" from {self.parent_sha256[:12]}"
        if self.tool:
            text += f" by {self.tool}" + (f" ({self.tool_version})" if self.tool_version else "")
        if self.requantized_from:
            text += f"; re-quantized from {self.requantized_from}, no higher-precision source"
        if self.note:
            text += f"; {self.note}"
        return text


@dataclass(frozen=True, slots=True)
class Artifact:
    """A model identified by content: two artifacts with one sha256 are one model. `path` is a
    file (GGUF) or a folder (an ONNX Runtime GenAI model: graph, weights, genai_config.json,
    tokenizer), whose sha256 is `sha256_of_folder`'s."""

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
    known = _read_index().get(_index_key(path))
    if known is not None:
        return str(known)
    digest = hash_file(path)
    remember_sha256(path, digest)
    return digest


def _index_key(path: Path) -> str:
    stat = path.stat()
    return f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"


def _read_index() -> dict[str, str]:
    try:
        return dict(json.loads((cache_dir() / "sha256.json").read_text()))
    except (OSError, ValueError):
        return {}


def remember_sha256(path: Path, digest: str) -> None:
    """Record a hash computed elsewhere (e.g. before a rename that kept the file's mtime)."""
    index = _read_index()
    index[_index_key(path)] = digest
    index_path = cache_dir() / "sha256.json"
    try:
        index_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = index_path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(index, indent=0))
        tmp.replace(index_path)
    except OSError as exc:
        log.debug("could not remember the sha256 of %s: %s", path, exc)


def hash_file(path: Path) -> str:
    """The full sha256 of a file, read now (no index): what verification compares."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_of_folder(path: Path, file_hash: Callable[[Path], str] = sha256_of) -> str:
    """Hex sha256 over a folder's files: each file's relative path and sha256, sorted by path,
    so the same files give the same hash wherever the folder lives and whatever its name.
    Verification passes `hash_file`, so no remembered hash stands in for the bytes."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(f"{file.relative_to(path).as_posix()}\0{file_hash(file)}\n".encode())
    return digest.hexdigest()


def size_of_folder(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
