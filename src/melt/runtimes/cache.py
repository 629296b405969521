"""The runtimes cache: one directory per runtime, named by its id, holding its binaries (and
shared libraries) beside `runtime.json`, its provenance.

Location: `$MELT_RUNTIMES`, else `runtimes/` in melt's cache (`~/.cache/melt`, moved by
`MELT_CACHE`). A runtime's id is `<target>-<backend>-<key>`, the key a hash of every input
of its build (source, target, backend, CMake flags, compiler and its version, binaries), so
the same inputs find the runtime already built and different ones never overwrite it. A
runtime is built in a temporary directory beside the cache's entries and renamed into place
only when complete: an interrupted or failed build leaves nothing under a runtime's name.
A runtime built on a board (`--on`) keeps its binaries in the board's workdir; its directory
here holds only `runtime.json`, which names the device and the path there.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from melt.errors import MeltError
from melt.models.artifact import cache_dir

RUNTIMES_ENV = "MELT_RUNTIMES"
MANIFEST = "runtime.json"


def runtimes_dir() -> Path:
    value = os.environ.get(RUNTIMES_ENV)
    return Path(value).expanduser() if value else cache_dir() / "runtimes"


@dataclass(frozen=True)
class Runtime:
    """A built runtime: its directory here and its provenance (`runtime.json`)."""

    path: Path
    provenance: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.provenance["id"])

    @property
    def target(self) -> str:
        return str(self.provenance["target"])

    @property
    def backend(self) -> str:
        return str(self.provenance["backend"])

    @property
    def device(self) -> str | None:
        """The board it was built and kept on (`--on`), or None for one kept here."""
        return self.provenance.get("device")

    @property
    def sha256(self) -> str:
        return str(self.provenance["sha256"])

    def has(self, tool: str) -> bool:
        return tool in self.provenance["binaries"]

    def binary(self, tool: str) -> str:
        """The tool's path: here, or on the board for a runtime kept there."""
        if not self.has(tool):
            raise MeltError(
                f"runtime {self.id} has no {tool} (it has {', '.join(self.provenance['binaries'])}"
                f"): build one with --tools {tool}"
            )
        if self.device:
            return f"{self.provenance['device_path']}/{tool}"
        return str(self.path / tool)

    def file_sha256(self, name: str) -> str:
        """A binary's or library's sha256, as recorded when it was built."""
        entries = {**self.provenance["binaries"], **self.provenance.get("libraries", {})}
        return str(entries[name]["sha256"])

    def files(self) -> list[Path]:
        """Everything a tool of this runtime needs beside it (binaries and libraries)."""
        names = [*self.provenance["binaries"], *self.provenance.get("libraries", {})]
        return [self.path / name for name in names]

    def verify(self, tool: str) -> None:
        """The tool's bytes are still those built (nothing runs under a sha256 it lacks)."""
        if self.device:
            return
        want = self.provenance["binaries"][tool]["sha256"]
        got = file_sha256(self.path / tool)
        if got != want:
            raise MeltError(
                f"runtime {self.id}: {tool} is damaged (sha256 {got[:12]}…, built as "
                f"{want[:12]}…); delete {self.path} and build it again"
            )

    def record(self, tool: str) -> dict[str, Any]:
        """What a run stores in `runs.runtime`: which runtime and which binary of it."""
        return {
            "id": self.id,
            "sha256": self.sha256,
            "target": self.target,
            "backend": self.backend,
            "device": self.device,
            "binary": tool,
            "binary_sha256": self.provenance["binaries"][tool]["sha256"],
            "llama_cpp": self.provenance.get("llama_cpp"),
            "linkage": self.provenance.get("linkage"),
        }


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def content_sha256(files: dict[str, dict[str, Any]]) -> str:
    """A runtime's content address: the hash of its files' names and sha256s."""
    lines = "".join(f"{name} {files[name]['sha256']}\n" for name in sorted(files))
    return hashlib.sha256(lines.encode()).hexdigest()


def _load(directory: Path) -> Runtime | None:
    try:
        provenance = json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(provenance, dict) or provenance.get("id") != directory.name:
        return None
    return Runtime(directory, provenance)


def cached(runtime_id: str) -> Runtime | None:
    return _load(runtimes_dir() / runtime_id)


def all_runtimes(root: Path | None = None) -> list[Runtime]:
    """Every runtime in the cache (`root`, default `runtimes_dir()`)."""
    root = root or runtimes_dir()
    if not root.is_dir():
        return []
    found = (_load(d) for d in sorted(root.iterdir()) if not d.name.startswith("."))
    return [r for r in found if r is not None]


def find(name: str) -> Runtime:
    """A runtime by its id or a unique prefix of it."""
    matches = [r for r in all_runtimes() if r.id == name] or [
        r for r in all_runtimes() if r.id.startswith(name)
    ]
    if len(matches) != 1:
        known = ", ".join(r.id for r in all_runtimes()) or "none built yet"
        what = "no runtime" if not matches else f"{len(matches)} runtimes"
        raise MeltError(
            f"{what} '{name}' in {runtimes_dir()} (known: {known}; see 'melt runtimes list')"
        )
    return matches[0]


def matching(
    target: str, backend: str, tool: str, device: str | None = None, root: Path | None = None
) -> Runtime | None:
    """The runtime for `target` and `backend` that has `tool`: one kept on `device` (a
    board's own build) before one kept here, the newest first. A `cpu` run takes a runtime
    of another backend when there is no cpu one (every backend keeps ggml's CPU backend)."""
    usable = [
        r
        for r in all_runtimes(root)
        if r.target == target
        and (r.backend == backend or backend == "cpu")
        and r.has(tool)
        and r.device in (None, device)
    ]
    usable.sort(
        key=lambda r: (
            r.backend == backend,
            r.device is not None,
            r.provenance.get("built_at", ""),
        )
    )
    return usable[-1] if usable else None


def runtime_of(binary: Path) -> Runtime | None:
    """The runtime whose directory holds `binary` (a tool of it), if it is one."""
    found = _load(binary.parent)
    return found if found is not None and found.has(binary.name) else None
