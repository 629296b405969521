"""Reuse by size (issue 24): a cached file or ONNX Runtime GenAI export folder edited in
place at the same size, its mtime put back, is never handed out under its old sha256."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from melt.models import cache
from melt.models.artifact import Artifact, Origin

DERIVATION = {"parent_sha256": "p" * 64, "target": "int4-cpu", "tool_version": "test 1"}


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MELT_CACHE", str(tmp_path / "cache"))


def _export() -> Artifact:
    """A folder artifact as `export_ort_genai` adds one."""
    with cache.temp_folder(".ort") as tmp:
        (tmp / "genai_config.json").write_text('{"model": {"type": "llama"}}')
        (tmp / "model.onnx.data").write_bytes(bytes(range(256)) * 64)
        return cache.add_folder(tmp, "m", "ort", "int4", Origin(source="derived"), DERIVATION)


def _file_variant() -> Artifact:
    with cache.temp_file() as tmp:
        tmp.write_bytes(b"GGUF" + bytes(range(256)) * 64)
        return cache.add(tmp, "m", "Q8_0", Origin(source="derived"), DERIVATION)


def _edit_keeping_size_and_mtime(path: Path) -> None:
    before = path.stat()
    with path.open("r+b") as fh:
        fh.seek(1000)
        block = fh.read(4096)
        fh.seek(1000)
        fh.write(bytes(b ^ 0xFF for b in block))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


def _found() -> Artifact | None:
    return cache.find_derived(DERIVATION["parent_sha256"], DERIVATION["target"], "test 1")


def test_an_intact_export_is_found_without_rehashing(monkeypatch: pytest.MonkeyPatch) -> None:
    made = _export()
    monkeypatch.setattr(cache, "hash_file", lambda path: pytest.fail(f"hashed {path}"))
    assert _found() == made


def test_a_same_size_edit_inside_a_cached_export_is_not_reused(
    caplog: pytest.LogCaptureFixture,
) -> None:
    made = _export()
    _edit_keeping_size_and_mtime(made.path / "model.onnx.data")
    with caplog.at_level(logging.WARNING, logger="melt.models.cache"):
        assert _found() is None
    assert f"cached model folder '{made.path}' is damaged" in caplog.text
    assert not made.path.exists()  # melt made it: removed, to be made again
    assert _export() == made


def test_a_touched_but_intact_export_is_rehashed_once_and_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = _export()
    config = made.path / "genai_config.json"
    os.utime(config, ns=(0, 10**18))
    assert _found() == made
    monkeypatch.setattr(cache, "hash_file", lambda path: pytest.fail(f"hashed {path}"))
    assert _found() == made
    sidecar = json.loads((cache.models_dir() / f"{made.sha256}.json").read_text())
    assert sidecar["stamp"]["genai_config.json"][1] == 10**18


def test_a_same_size_edit_of_a_cached_file_with_its_mtime_put_back_is_not_reused() -> None:
    made = _file_variant()
    _edit_keeping_size_and_mtime(made.path)
    assert _found() is None
    assert not made.path.exists()
