"""A path on a device, read through that device's file view.

Probes walk sysfs with a handful of `pathlib` operations (`/`, `name`, `read_text`,
`exists`, `is_dir`, `iterdir`). `DevicePath` offers exactly those over any `FileView`, so a
probe's discovery and parsing are the same code whether the files are this machine's, a
fixture tree's, or a board's over SSH. A plain `pathlib.Path` satisfies the same `SysPath`
protocol, which keeps probe unit tests on fixture directories unchanged.

Standard library only: the runner melt ships to a device imports it.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from typing import Protocol

from melt.devices.base import FileView


class SysPath(Protocol):
    """The part of `pathlib.Path` that probes use."""

    @property
    def name(self) -> str: ...

    def __truediv__(self, other: str) -> SysPath: ...

    def read_text(self) -> str: ...

    def exists(self) -> bool: ...

    def is_dir(self) -> bool: ...

    def iterdir(self) -> Iterator[SysPath]: ...


class DevicePath:
    """An absolute POSIX path on the device behind `view`."""

    __slots__ = ("path", "view")

    def __init__(self, view: FileView, path: str = "/") -> None:
        if not path.startswith("/"):
            raise ValueError(f"device paths are absolute (got '{path}')")
        self.view = view
        self.path = posixpath.normpath(path) if path != "/" else "/"

    @property
    def name(self) -> str:
        return posixpath.basename(self.path)

    @property
    def parent(self) -> DevicePath:
        return DevicePath(self.view, posixpath.dirname(self.path) or "/")

    def __truediv__(self, other: str) -> DevicePath:
        return DevicePath(self.view, posixpath.join(self.path, str(other)))

    def read_text(self) -> str:
        return self.view.read_text(self.path)

    def exists(self) -> bool:
        return self.view.exists(self.path)

    def is_dir(self) -> bool:
        return self.view.is_dir(self.path)

    def iterdir(self) -> Iterator[DevicePath]:
        for entry in self.view.list_dir(self.path):
            yield self / entry

    def __str__(self) -> str:
        return self.path

    def __repr__(self) -> str:
        return f"DevicePath({self.path!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DevicePath) and other.view is self.view and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)

    def __lt__(self, other: DevicePath) -> bool:
        return self.path < other.path
