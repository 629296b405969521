"""A device's file view answered from one snapshot of a few sysfs trees.

Discovering probes walks sysfs with many small operations (list a directory, test a file,
read its first line). Over a transport each is a round trip (tens of ms over adb, hundreds of
zones on a phone), so `SnapshotView` takes the trees discovery walks in ONE shell round trip
(`find -L` to a depth, then each file's first line, read by the shell's builtins) and answers
from it; a path outside those trees goes to the device. A snapshot holds first lines only and
never changes: it is for discovery and static facts, never for sampling.

Standard library only.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence

from melt.devices.base import Device

SNAPSHOT_SH = r"""
i=0
while [ $# -gt 1 ]; do
    depth=$1 root=$2
    shift 2
    find -L "$root" -maxdepth "$depth" 2>/dev/null | while IFS= read -r p; do
        rel=${p#"$root"}
        if [ -d "$p" ]; then
            echo "$i|D|$rel|"
        else
            v=
            if { read -r v < "$p"; } 2>/dev/null || [ -n "$v" ]; then
                echo "$i|F|$rel|$v"
            else
                echo "$i|U|$rel|"
            fi
        fi
    done
    i=$((i + 1))
done
"""

Entry = tuple[str, str]  # kind (D: directory, F: file, U: unreadable file), first line


class SnapshotView:
    """`FileView` over `device` for the trees `(path, depth)` (absolute device paths; depth
    as `find -maxdepth`), answered from one snapshot taken when it is made."""

    def __init__(self, device: Device, trees: Sequence[tuple[str, int]]) -> None:
        self.device = device
        self.trees = [(posixpath.normpath(path), depth) for path, depth in trees]
        self._entries: dict[str, Entry] = {}
        self._children: dict[str, list[str]] = {}
        if self.trees:
            self._take()

    def _take(self) -> None:
        args = [str(item) for path, depth in self.trees for item in (depth, path)]
        result = self.device.run(["sh", "-c", SNAPSHOT_SH, "melt-snapshot", *args])
        for line in result.stdout.splitlines():
            index, kind, rel, value = [*line.split("|", 3), "", "", ""][:4]
            if not index.isdigit() or kind not in ("D", "F", "U"):
                continue
            path = posixpath.normpath(self.trees[int(index)][0] + rel)
            self._entries[path] = (kind, value)
        for path in self._entries:
            parent = posixpath.dirname(path)
            if parent in self._entries and parent != path:
                self._children.setdefault(parent, []).append(posixpath.basename(path))

    def _covers(self, path: str, listing: bool = False) -> bool:
        """Whether the snapshot knows `path` (for a listing: its entries too)."""
        for root, depth in self.trees:
            if path == root or path.startswith(root + "/"):
                below = 0 if path == root else path[len(root) + 1 :].count("/") + 1
                return below + (1 if listing else 0) <= depth
        return False

    def read_text(self, path: str) -> str:
        path = posixpath.normpath(path)
        if not self._covers(path):
            return self.device.read_text(path)
        kind, value = self._entries.get(path, ("", ""))
        if kind == "F":
            return value + "\n"
        if kind == "D":
            raise IsADirectoryError(path)
        if kind == "U":
            raise OSError(f"{self.device.name}:{path}: not readable")
        raise FileNotFoundError(path)

    def list_dir(self, path: str) -> list[str]:
        path = posixpath.normpath(path)
        if not self._covers(path, listing=True):
            return self.device.list_dir(path)
        kind, _ = self._entries.get(path, ("", ""))
        if kind == "":
            raise FileNotFoundError(path)
        if kind != "D":
            raise NotADirectoryError(path)
        return sorted(self._children.get(path, []))

    def exists(self, path: str) -> bool:
        path = posixpath.normpath(path)
        if not self._covers(path):
            return self.device.exists(path)
        return path in self._entries

    def is_dir(self, path: str) -> bool:
        path = posixpath.normpath(path)
        if not self._covers(path):
            return self.device.is_dir(path)
        return self._entries.get(path, ("", ""))[0] == "D"

    def read_many(self, paths: Sequence[str]) -> dict[str, str | None]:
        return self.device.read_many(paths)
