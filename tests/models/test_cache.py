"""The cache verifies what it hands out: size and mtime against the sidecar, the full sha256
when they changed; a damaged entry is never measured under the sha256 of its name."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from melt.errors import MeltError
from melt.models import cache
from melt.models.artifact import Artifact, Origin, hash_file

DERIVATION = {"parent_sha256": "p" * 64, "target": "q8_0", "tool_version": "test 1"}


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MELT_CACHE", str(tmp_path / "cache"))


def _made(content: bytes = b"GGUF" + bytes(range(256)) * 64) -> Artifact:
    """A variant as melt makes one: written to a temp file, then added under its sha256."""
    with cache.temp_file() as tmp:
        tmp.write_bytes(content)
        return cache.add(tmp, "m", "Q8_0", Origin(source="derived"), DERIVATION)


def _damage(path: Path, *, same_size: bool = True) -> None:
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data) if same_size else bytes(data) + b"x")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_an_intact_entry_is_found_without_rehashing(monkeypatch: pytest.MonkeyPatch) -> None:
    made = _made()
    monkeypatch.setattr(cache, "hash_file", lambda path: pytest.fail(f"hashed {path}"))
    found = cache.find_derived(DERIVATION["parent_sha256"], "q8_0", "test 1")
    assert found is not None and found.sha256 == made.sha256 and found.path == made.path


def test_a_touched_but_intact_entry_is_rehashed_once_and_kept() -> None:
    made = _made()
    stat = made.path.stat()
    os.utime(made.path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    assert cache.load(made.sha256) == made
    sidecar = json.loads((cache.models_dir() / f"{made.sha256}.json").read_text())
    assert sidecar["stamp"][1] == made.path.stat().st_mtime_ns


@pytest.mark.parametrize("same_size", [True, False])
def test_a_damaged_variant_is_reported_removed_and_made_again(
    same_size: bool, caplog: pytest.LogCaptureFixture
) -> None:
    made = _made()
    _damage(made.path, same_size=same_size)
    actual = hash_file(made.path)
    with caplog.at_level(logging.WARNING, logger="melt.models.cache"):
        found = cache.find_derived(DERIVATION["parent_sha256"], "q8_0", "test 1")
    assert found is None
    assert f"cached model '{made.path}' is damaged: its bytes hash to {actual[:12]}" in caplog.text
    assert not made.path.exists()
    assert not (cache.models_dir() / f"{made.sha256}.json").exists()
    again = _made()
    assert again.sha256 == made.sha256 and cache.load(again.sha256) == again


def test_a_damaged_entry_melt_did_not_make_is_refused() -> None:
    folder = cache.models_dir() / "hub"
    folder.mkdir(parents=True)
    path = folder / "model.gguf"
    path.write_bytes(b"GGUF" + b"\x01" * 4096)
    sha = hash_file(path)
    cache.register(Artifact("model", path.resolve(), "gguf", "Q4_0", sha, 4100, Origin("hub")))
    _damage(path)
    with pytest.raises(MeltError) as info:
        cache.load(sha)
    message = str(info.value)
    assert f"cached model '{path.resolve()}' is damaged" in message
    assert "delete both files and fetch or convert the model again" in message
    assert path.exists()


def test_an_unusable_cache_folder_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MELT_CACHE", "/proc/x")
    with pytest.raises(MeltError) as info:
        cache.check_free_space(1 << 20)
    message = str(info.value)
    assert message.startswith("cannot use the model cache '/proc/x/models' (")
    assert message.endswith("set MELT_CACHE to a writable folder") and "\n" not in message
    unusable = pytest.raises(MeltError, match="cannot use the model cache '/proc/x/models'")
    with unusable, cache.temp_file():
        pass
