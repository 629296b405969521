"""What `melt import` may read: regular files no larger than `MAX_SOURCE_BYTES`, inside the
folder it was given (or, for one file, that file and its own folder's files).

Every importer reads through `read_source` (base.py's `read_text` and `read_head`), and the
folder importer walks with `walk`, so the checks hold for every format: a symlink whose
target leaves the folder, a device (``/dev/zero``), a pipe or a socket, and a file past
the limit are each refused with one line instead of read. A file is opened only after
`os.stat` says it is regular (opening a pipe would block), checked again on the open
descriptor, and read no further than the limit.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from melt.errors import MeltError

MAX_SOURCE_BYTES = 1 << 30  # a long Monsoon capture is a few hundred MB of CSV
CHUNK_BYTES = 1 << 20
# what an archive starts with: melt reads the files inside, not the archive
ARCHIVES = (
    (b"PK\x03\x04", "a zip archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7z archive"),
    (b"(\xb5/\xfd", "a zstd archive"),
)
KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a pipe"),
    (stat.S_ISSOCK, "a socket"),
)


@dataclass(frozen=True, slots=True)
class Scope:
    """The folder an import may read inside (resolved), and the path the user named, which
    may itself be a link to anywhere: naming it is consent."""

    root: Path
    named: Path

    @classmethod
    def of(cls, path: Path) -> Scope:
        folder = path if path.is_dir() else path.parent
        return cls(folder.resolve(), path.resolve())

    def check(self, path: Path) -> Path:
        """`path` resolved, or a `MeltError` when it leads outside the root."""
        target = path.resolve()
        if target == self.named or target.is_relative_to(self.root):
            return target
        raise MeltError(
            f"import source '{path}' links outside '{self.root}' (to '{target}'); "
            "melt import reads only inside the folder it is given"
        )


_SCOPE: ContextVar[Scope | None] = ContextVar("import_scope", default=None)


@contextmanager
def scope(path: Path) -> Iterator[Scope]:
    """While an import of `path` reads, every source must stay inside its scope."""
    found = Scope.of(path)
    token = _SCOPE.set(found)
    try:
        yield found
    finally:
        _SCOPE.reset(token)


def _kind(mode: int) -> str | None:
    return next((kind for test, kind in KINDS if test(mode)), None)


def check_source(path: Path) -> os.stat_result:
    """`path` as a readable source: inside the active scope, a regular file, within the
    size limit; its `stat`, or a one-line `MeltError` naming it."""
    current = _SCOPE.get()
    if current is not None:
        current.check(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise MeltError(f"import source '{path}' not found (or a link to nothing)") from None
    except OSError as exc:
        raise MeltError(f"import source '{path}' is not readable ({exc.strerror or exc})") from None
    _check_stat(path, info)
    return info


def _check_stat(path: Path, info: os.stat_result) -> None:
    kind = _kind(info.st_mode)
    if kind is not None or not stat.S_ISREG(info.st_mode):
        raise MeltError(
            f"import source '{path}' is {kind or 'not a regular file'}, not a file melt can "
            "read; pass a log, capture or results folder"
        )
    if info.st_size > MAX_SOURCE_BYTES:
        raise MeltError(
            f"import source '{path}' is {info.st_size:,} bytes, over the "
            f"{MAX_SOURCE_BYTES / 2**30:g} GiB ({MAX_SOURCE_BYTES:,} bytes) limit for one "
            "source; split the capture"
        )


def _check_not_archive(path: Path, start: bytes) -> None:
    kind = next((kind for magic, kind in ARCHIVES if start.startswith(magic)), None)
    if kind is not None:
        raise MeltError(
            f"import source '{path}' is {kind}; melt import does not read archives: "
            "extract it and import the file or folder"
        )


def chunks(path: Path) -> Iterator[bytes]:
    """The checked source's bytes, a chunk at a time; a file that grows past the limit
    while it is read is refused, not read on."""
    check_source(path)
    with path.open("rb") as fh:
        _check_stat(path, os.fstat(fh.fileno()))  # the file opened is the file checked
        left = MAX_SOURCE_BYTES
        first = True
        while chunk := fh.read(min(CHUNK_BYTES, left + 1)):
            if first:
                _check_not_archive(path, chunk)
                first = False
            left -= len(chunk)
            if left < 0:
                raise MeltError(
                    f"import source '{path}' grew past the {MAX_SOURCE_BYTES / 2**30:g} GiB "
                    "limit while read; import a finished file"
                )
            yield chunk


def read_source(path: Path) -> bytes:
    return b"".join(chunks(path))


def read_start(path: Path, size: int) -> bytes:
    """The checked source's first `size` bytes at most."""
    check_source(path)
    with path.open("rb") as fh:
        _check_stat(path, os.fstat(fh.fileno()))
        start = fh.read(size)
    _check_not_archive(path, start)
    return start


def walk(root: Path) -> Iterator[tuple[Path, list[Path], list[Path]]]:
    """(folder, files, linked folders) for `root` and every folder under it, in sorted
    order, never descending through a link to a folder (its target is outside, or walked
    where it is): the linked folders are returned for the caller to say so."""
    for folder, dirs, files in os.walk(root, followlinks=False):
        here = Path(folder)
        dirs.sort()
        linked = [here / d for d in dirs if (here / d).is_symlink()]
        dirs[:] = [d for d in dirs if not (here / d).is_symlink()]
        yield here, [here / f for f in sorted(files)], linked
