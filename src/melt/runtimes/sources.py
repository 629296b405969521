"""Where a runtime's llama.cpp comes from: the sources vendored in the llama-cpp-python sdist
melt pins (the same llama.cpp as the in-process engine), fetched once from PyPI with
`pip download --no-binary :all: --no-deps` and unpacked into the runtimes cache, or a
directory the user names (`--source DIR`).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tarfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from melt.errors import MeltError

PACKAGE = "llama-cpp-python"
PINNED_VERSION = "0.3.36"  # pyproject's pin; the in-process engine runs this llama.cpp
VENDORED = "vendor/llama.cpp"
# What a build never reads: left out of a copy (a build's own, or one sent to a board).
NOT_NEEDED = (".git", "docs", "media", "models", "tests", "gguf-py", "pocs", "benches")


@dataclass(frozen=True)
class Source:
    """A llama.cpp source tree and how melt knows what it is. `sha256` identifies the
    input (the sdist's hash, or for `--source` a hash of its files' names, sizes and
    mtimes), so a changed source is a different runtime."""

    path: Path
    kind: str  # "sdist" or "directory"
    sha256: str
    description: str
    commit: str | None = None  # llama.cpp's git commit, where the source says it

    def record(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "path": str(self.path),
            "sha256": self.sha256,
            "description": self.description,
            "commit": self.commit,
        }


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _tree_stamp(root: Path) -> str:
    """A hash of a directory's files (relative path, size, mtime): what changes when a
    user edits their `--source`, without reading 170 MB on every lookup."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if (rel.parts and rel.parts[0] in NOT_NEEDED) or not path.is_file():
            continue
        st = path.stat()
        digest.update(f"{rel.as_posix()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def directory_source(path: Path) -> Source:
    path = path.expanduser().resolve()
    if not (path / "CMakeLists.txt").is_file():
        raise MeltError(
            f"--source {path}: no CMakeLists.txt there (pass a llama.cpp source directory)"
        )
    return Source(path, "directory", _tree_stamp(path), f"--source {path}", _git_commit(path))


def _git_commit(path: Path) -> str | None:
    """The checkout's commit, where `path` is one and git is installed."""
    try:
        done = subprocess.run(
            ["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True
        )
    except OSError:  # no git here
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def pinned_source(sources_dir: Path) -> Source:
    """The pinned sdist's vendored llama.cpp, downloaded and unpacked once under
    `sources_dir` (written to a temporary name, renamed when complete)."""
    name = f"llama_cpp_python-{PINNED_VERSION}"
    sdist = sources_dir / f"{name}.tar.gz"
    tree = sources_dir / name
    if not sdist.is_file():
        _download(sources_dir, sdist)
    if not (tree / VENDORED / "CMakeLists.txt").is_file():
        partial = sources_dir / f".{name}.{uuid.uuid4().hex}"
        try:
            with tarfile.open(sdist) as archive:
                archive.extractall(partial, filter="data")
            shutil.rmtree(tree, ignore_errors=True)
            (partial / name).rename(tree)
        finally:
            shutil.rmtree(partial, ignore_errors=True)
    return Source(
        tree / VENDORED,
        "sdist",
        _file_sha256(sdist),
        f"{PACKAGE}=={PINNED_VERSION} sdist ({VENDORED})",
        _submodule_commit(tree),
    )


def _submodule_commit(tree: Path) -> str | None:
    """The vendored llama.cpp's commit: the sdist keeps the submodule's git directory (the
    copy a build compiles leaves `.git` out, so llama.cpp's own build-info says `unknown`)."""
    try:
        head = (tree / ".git" / "modules" / VENDORED / "HEAD").read_text().strip()
    except OSError:
        return None
    return head if len(head) == 40 and all(c in "0123456789abcdef" for c in head) else None


def _download(sources_dir: Path, sdist: Path) -> None:
    sources_dir.mkdir(parents=True, exist_ok=True)
    partial = sources_dir / f".download-{uuid.uuid4().hex}"
    argv = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
    argv += ["--no-binary", ":all:", f"{PACKAGE}=={PINNED_VERSION}", "-d", str(partial)]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        got = partial / sdist.name
        if done.returncode != 0 or not got.is_file():
            last = (done.stderr.strip().splitlines() or ["no sdist"])[-1]
            raise MeltError(
                f"could not download the {PACKAGE}=={PINNED_VERSION} sdist from PyPI ({last}); "
                "connect to the internet or pass --source DIR (a llama.cpp checkout)"
            )
        got.rename(sdist)
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def copy_tree(source: Path, dest: Path) -> None:
    """The source tree without what a build never reads (`NOT_NEEDED`)."""
    shutil.copytree(source, dest, ignore=lambda d, names: _ignored(source, Path(d), names))


def _ignored(root: Path, directory: Path, names: list[str]) -> list[str]:
    return list(NOT_NEEDED) if directory == root else [".git"]
