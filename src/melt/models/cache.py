"""The model cache: artifacts addressed by content hash, each with a JSON sidecar.

Layout under `cache_dir()/models` (`~/.cache/melt/models`, moved by `MELT_CACHE`):
`<sha256>.gguf` is the file, `<sha256>.json` what it is and where it came from. A file is
written to a temporary name in the same directory and renamed only once complete, so an
interrupted write or a full disk never leaves a partial artifact under a real name.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from melt.errors import MeltError
from melt.models.artifact import Artifact, Origin, cache_dir, remember_sha256, sha256_of

log = logging.getLogger(__name__)

# Room kept free beyond the file itself, so the cache never fills a disk to the last byte.
SPARE_BYTES = 64 << 20


def models_dir() -> Path:
    return cache_dir() / "models"


def _sidecar(sha256: str) -> Path:
    return models_dir() / f"{sha256}.json"


def _file(meta: dict[str, Any], sha256: str) -> Path:
    """Where an entry's file is: `<sha256>.gguf`, or a file another source wrote into a
    sub-folder of the cache (`converted/`, `hub/`) and `register` indexed."""
    return models_dir() / meta.get("file", f"{sha256}.gguf")


def load(sha256: str) -> Artifact | None:
    """The cached artifact with this content hash, or None."""
    sidecar = _sidecar(sha256)
    try:
        meta = json.loads(sidecar.read_text())
    except (OSError, ValueError):
        return None
    path = _file(meta, sha256)
    if not path.is_file():
        return None
    return _artifact(meta, path)


def _artifact(meta: dict[str, Any], path: Path) -> Artifact:
    return Artifact(
        name=meta["name"],
        path=path,
        format=meta.get("format", "gguf"),
        quant=meta["quant"],
        sha256=meta["sha256"],
        size_bytes=int(meta["size_bytes"]),
        origin=Origin(**meta.get("origin", {})),
    )


def entries() -> list[tuple[Artifact, dict[str, Any]]]:
    """Every complete artifact in the cache with its sidecar, oldest first."""
    found = []
    folder = models_dir()
    if not folder.is_dir():
        return []
    for sidecar in sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime_ns):
        try:
            meta = json.loads(sidecar.read_text())
        except (OSError, ValueError):
            log.warning("ignoring unreadable cache entry %s", sidecar)
            continue
        path = _file(meta, sidecar.stem)
        if path.is_file() and "sha256" in meta:
            found.append((_artifact(meta, path), meta))
    return found


def find_derived(parent_sha256: str, target: str, tool_version: str) -> Artifact | None:
    """A cached artifact made from `parent_sha256` to `target` by this tool version."""
    for artifact, meta in entries():
        derivation = meta.get("derivation") or {}
        if (
            derivation.get("parent_sha256") == parent_sha256
            and derivation.get("target") == target
            and derivation.get("tool_version") == tool_version
        ):
            return artifact
    return None


def check_free_space(needed_bytes: int) -> None:
    folder = models_dir()
    folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free
    if free < needed_bytes + SPARE_BYTES:
        raise MeltError(
            f"not enough space in the model cache '{folder}': the file needs about "
            f"{needed_bytes / 2**20:.0f} MiB, {free / 2**20:.0f} MiB are free "
            "(free some space, or set MELT_CACHE to a larger disk)"
        )


@contextlib.contextmanager
def temp_file(suffix: str = ".gguf") -> Iterator[Path]:
    """A temporary path inside the cache, removed unless it was renamed into place."""
    folder = models_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MeltError(
            f"cannot create the model cache '{folder}' ({exc.strerror}); set MELT_CACHE"
        ) from None
    path = folder / f".partial-{uuid.uuid4().hex}{suffix}"
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def write_error(exc: OSError, what: str) -> MeltError:
    """A one-line error for a failed write into the cache (full disk, quota, file size)."""
    # numpy reports a short write as an OSError without errno ("... requested and ... written").
    short_write = exc.errno is None and "written" in str(exc)
    if short_write or exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        hint = "the disk is full; free some space or set MELT_CACHE to a larger disk"
    else:
        hint = "check that MELT_CACHE points to a writable disk"
    return MeltError(
        f"could not write {what} into the model cache '{models_dir()}' "
        f"({exc.strerror or 'short write'}); {hint} (no partial file was kept)"
    )


def register(artifact: Artifact) -> Artifact:
    """Index a file that a conversion or a download wrote inside the cache, where it is."""
    known = load(artifact.sha256)
    if known is not None:
        return known
    meta = {
        "name": artifact.name,
        "format": artifact.format,
        "quant": artifact.quant,
        "sha256": artifact.sha256,
        "size_bytes": artifact.size_bytes,
        "origin": asdict(artifact.origin),
        "file": str(artifact.path.relative_to(models_dir().resolve())),
    }
    try:
        _sidecar(artifact.sha256).write_text(json.dumps(meta, indent=1))
    except OSError as exc:
        raise write_error(exc, f"the index entry of {artifact.name}") from None
    return artifact


def add(tmp: Path, name: str, quant: str, origin: Origin, derivation: dict[str, str]) -> Artifact:
    """Move a complete file from `temp_file()` into the cache under its content hash."""
    sha = sha256_of(tmp)
    final = models_dir() / f"{sha}.gguf"
    meta = {
        "name": name,
        "format": "gguf",
        "quant": quant,
        "sha256": sha,
        "size_bytes": tmp.stat().st_size,
        "origin": asdict(origin),
        "derivation": derivation,
    }
    sidecar_tmp = tmp.with_suffix(".json")
    try:
        sidecar_tmp.write_text(json.dumps(meta, indent=1))
        os.replace(tmp, final)
        os.replace(sidecar_tmp, _sidecar(sha))
    except OSError as exc:
        sidecar_tmp.unlink(missing_ok=True)
        raise write_error(exc, f"{name} {quant}") from None
    remember_sha256(final, sha)
    return _artifact(meta, final)
