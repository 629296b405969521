"""The fast GGUF header reader agrees with the gguf package on the bundled model."""

from pathlib import Path

import pytest

from melt.models.gguf_file import field_value, validate_gguf
from melt.models.gguf_header import NotGguf, read_metadata


def test_scalars_and_strings_match_the_gguf_package(bundled) -> None:
    meta = read_metadata(bundled.path)
    reader = validate_gguf(bundled.path)
    scalar_keys = [k for k in meta if not k.startswith("tokenizer.chat_template")]
    assert "llama.attention.head_count_kv" in meta and len(scalar_keys) > 10
    for key in scalar_keys:
        assert meta[key] == pytest.approx(field_value(reader, key)), key
    arrays = {k for k, f in reader.fields.items() if len(f.data) > 1}
    assert "tokenizer.ggml.tokens" in arrays and not arrays & set(meta)


def test_not_gguf_and_truncated(tmp_path: Path, bundled) -> None:
    other = tmp_path / "x.bin"
    other.write_bytes(b"PK\x03\x04 not a model")
    with pytest.raises(NotGguf, match="not a GGUF"):
        read_metadata(other)
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(bundled.path.read_bytes()[:200])
    with pytest.raises(NotGguf, match="truncated"):
        read_metadata(cut)
