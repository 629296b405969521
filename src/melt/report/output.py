"""Where a report is written: a file path whose folder exists and can be written, checked
before the report is built, and every write failure after that as one line naming the
flag and the path."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from melt.errors import MeltError


def _refused(flag: str, path: Path, reason: str) -> MeltError:
    return MeltError(f"{flag} '{path}': {reason}")


def check_output(path: Path, flag: str, example: str) -> None:
    """Fail before any work when `path` is a folder, its folder is missing, or it cannot be
    written; `example` is a file name to suggest inside a folder (``report.html``)."""
    if path.is_dir():
        raise _refused(flag, path, f"is a folder; pass a file path such as {path / example}")
    folder = path.parent
    if not folder.is_dir():
        raise _refused(flag, path, f"folder '{folder}' does not exist; create it first")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise _refused(flag, path, "not writable; pass a path you can write")


@contextmanager
def writing(path: Path, flag: str) -> Iterator[None]:
    """Turn a failed write (no space, no permission, a read-only file system) into one line."""
    try:
        yield
    except OSError as exc:
        raise _refused(flag, path, f"cannot be written ({exc.strerror or exc})") from None
