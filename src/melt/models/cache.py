"""The model cache: artifacts addressed by content hash, each with a JSON sidecar.

Layout under `cache_dir()/models` (`~/.cache/melt/models`, moved by `MELT_CACHE`):
`<sha256>.gguf` is the file (`<sha256>.<format>/` a folder artifact, such as an ONNX Runtime
GenAI model), `<sha256>.json` what it is and where it came from. A file or folder is written to
a temporary name in the same directory and renamed only once complete, so an interrupted write
or a full disk never leaves a partial artifact under a real name.
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
from melt.models.artifact import (
    Artifact,
    Origin,
    cache_dir,
    hash_file,
    remember_sha256,
    sha256_of,
    sha256_of_folder,
    size_of_folder,
)

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
    """The cached artifact with this content hash, verified (`verified`), or None."""
    sidecar = _sidecar(sha256)
    try:
        meta = json.loads(sidecar.read_text())
    except (OSError, ValueError):
        return None
    return verified(meta, sidecar)


def verified(meta: dict[str, Any], sidecar: Path) -> Artifact | None:
    """The entry's artifact once its file is what the sidecar says it is, so nothing is
    measured under a sha256 its bytes do not have.

    The file's stat (`_stamp`: size, mtime, inode and change time) is compared with the one
    recorded when melt last checked its bytes; the change time moves on every write, even
    one that keeps the size and puts the mtime back, so a matching stat is the checked file.
    When it differs (or the sidecar predates stamps) the whole file is hashed again, and a
    file whose hash still matches gets its new stamp recorded. A damaged variant that melt
    made (a sidecar with a `derivation`) is reported with its path and removed, so it is
    made again (None); any other damaged entry is refused with a `MeltError`. A missing file
    is None.
    """
    path = _file(meta, sidecar.stem)
    if path.is_dir():
        return _verified_folder(meta, sidecar, path)
    try:
        stat = path.stat()
    except OSError:
        return None
    if meta.get("stamp") == _stamp(stat):
        return _artifact(meta, path)
    actual = hash_file(path)
    if actual == meta.get("sha256") and stat.st_size == meta.get("size_bytes"):
        _write_sidecar(sidecar, {**meta, "stamp": _stamp(stat)})
        return _artifact(meta, path)
    problem = (
        f"cached model '{path}' is damaged: its bytes hash to {actual[:12]}…, "
        f"{stat.st_size} bytes, its index entry '{sidecar}' says {str(meta.get('sha256'))[:12]}…, "
        f"{meta.get('size_bytes')} bytes"
    )
    return _damaged(
        meta, sidecar, path, problem, "delete both files and fetch or convert the model again"
    )


def _stamp(stat: os.stat_result) -> list[int]:
    """What identifies a file's current bytes without reading them: size, mtime, inode and
    change time (ns); any write, rename or `touch` changes the last, and no user can set it."""
    return [stat.st_size, stat.st_mtime_ns, stat.st_ino, stat.st_ctime_ns]


def _folder_stamp(path: Path) -> dict[str, list[int]]:
    return {
        file.relative_to(path).as_posix(): _stamp(file.stat())
        for file in sorted(path.rglob("*"))
        if file.is_file()
    }


def _damaged(
    meta: dict[str, Any], sidecar: Path, path: Path, problem: str, fix: str
) -> Artifact | None:
    """A variant melt made is removed to be made again (None); any other entry is refused."""
    if not meta.get("derivation"):
        raise MeltError(f"{problem}; {fix}")
    log.warning("%s; removing it to make it again", problem)
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
    sidecar.unlink(missing_ok=True)
    return None


def _verified_folder(meta: dict[str, Any], sidecar: Path, path: Path) -> Artifact | None:
    """A folder artifact (an ONNX Runtime GenAI model): every file's stamp must be the one
    recorded (a file added, removed or rewritten in place, at the same size or not, changes
    it); when it is not, the folder's content hash is taken again from the bytes."""
    stamp = _folder_stamp(path)
    if meta.get("stamp") == stamp:
        return _artifact(meta, path)
    actual = sha256_of_folder(path, file_hash=hash_file)
    if actual == meta.get("sha256"):
        _write_sidecar(sidecar, {**meta, "stamp": stamp})
        return _artifact(meta, path)
    problem = f"cached model folder '{path}' is damaged: its files hash to {actual[:12]}…"
    return _damaged(
        meta, sidecar, path, problem, f"delete it and its '{sidecar}' and make it again"
    )


def _write_sidecar(sidecar: Path, meta: dict[str, Any]) -> None:
    """Rewrite an entry's sidecar in place (atomically); failure only costs a re-hash."""
    tmp = sidecar.with_suffix(f".{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(meta, indent=1))
        os.replace(tmp, sidecar)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        log.debug("could not update %s: %s", sidecar, exc)


def _publish(sha256: str, meta: dict[str, Any], what: str) -> None:
    """Write a new entry's sidecar atomically, once its file or folder is in place."""
    sidecar = _sidecar(sha256)
    tmp = sidecar.with_suffix(f".{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(meta, indent=1))
        os.replace(tmp, sidecar)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise write_error(exc, f"the index entry of {what}") from None


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
        artifact = verified(meta, sidecar) if "sha256" in meta else None
        if artifact is not None:
            found.append((artifact, meta))
    return found


def derivation(sha256: str) -> dict[str, Any]:
    """How melt made the cached artifact with this hash (its sidecar's `derivation`); empty
    for one it did not make or does not have."""
    try:
        meta = json.loads(_sidecar(sha256).read_text())
    except (OSError, ValueError):
        return {}
    return dict(meta.get("derivation") or {})


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


def _made_dir() -> Path:
    """The models folder, created if need be; an unusable `MELT_CACHE` is one line."""
    folder = models_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".writable-{uuid.uuid4().hex}"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise MeltError(
            f"cannot use the model cache '{folder}' ({exc.strerror or exc}); set MELT_CACHE "
            "to a writable folder"
        ) from None
    return folder


def check_free_space(needed_bytes: int) -> None:
    folder = _made_dir()
    free = shutil.disk_usage(folder).free
    if free < needed_bytes + SPARE_BYTES:
        raise MeltError(
            f"not enough space in the model cache '{folder}': the file needs about "
            f"{needed_bytes / 2**20:.0f} MiB, {free / 2**20:.0f} MiB are free "
            "(free some space, or set MELT_CACHE to a larger disk)"
        )


def _partial_path(suffix: str) -> Path:
    return _made_dir() / f".partial-{uuid.uuid4().hex}{suffix}"


@contextlib.contextmanager
def temp_file(suffix: str = ".gguf") -> Iterator[Path]:
    """A temporary path inside the cache, removed unless it was renamed into place."""
    path = _partial_path(suffix)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def temp_folder(suffix: str) -> Iterator[Path]:
    """A temporary folder inside the cache (created empty), removed unless it was renamed
    into place."""
    path = _partial_path(suffix)
    path.mkdir()
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


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
        "stamp": _folder_stamp(artifact.path)
        if artifact.path.is_dir()
        else _stamp(artifact.path.stat()),
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
    try:
        os.replace(tmp, final)
        meta["stamp"] = _stamp(final.stat())  # after the rename, which moves the change time
    except OSError as exc:
        raise write_error(exc, f"{name} {quant}") from None
    _publish(sha, meta, f"{name} {quant}")
    remember_sha256(final, sha)
    return _artifact(meta, final)


def add_folder(
    tmp: Path, name: str, fmt: str, quant: str, origin: Origin, derivation: dict[str, Any]
) -> Artifact:
    """Move a complete folder from `temp_folder()` into the cache as `<sha256>.<fmt>/`, the
    hash taken over its files (`sha256_of_folder`)."""
    sha = sha256_of_folder(tmp)
    final = models_dir() / f"{sha}.{fmt}"
    meta = {
        "name": name,
        "format": fmt,
        "quant": quant,
        "sha256": sha,
        "size_bytes": size_of_folder(tmp),
        "origin": asdict(origin),
        "derivation": derivation,
        "file": final.name,
    }
    try:
        if final.exists():  # the same files made again: keep the first copy (hashed on use)
            shutil.rmtree(tmp)
        else:
            os.replace(tmp, final)
            meta["stamp"] = _folder_stamp(final)
    except OSError as exc:
        raise write_error(exc, f"{name} {fmt} {quant}") from None
    _publish(sha, meta, f"{name} {fmt} {quant}")
    return _artifact(meta, final)
