"""The ONNX Runtime GenAI export on the real bundled model: a folder artifact in the cache,
hashed over its files, with its lineage back to the bundled Q4_1."""

import sys

import pytest

from melt.errors import MeltError
from melt.models import Artifact, cache, resolve_model
from melt.models.artifact import sha256_of_folder
from melt.models.ort_export import (
    GENAI_CONFIG,
    ORT_FORMAT,
    export_ort_genai,
    validate_ort_folder,
)
from melt.models.quantize import REUSED, lineage_root


@pytest.mark.slow
def test_export_is_a_cached_folder_with_its_lineage(ort_int4: Artifact, bundled: Artifact) -> None:
    assert ort_int4.format == ORT_FORMAT and ort_int4.quant == "int4"
    assert ort_int4.path.parent == cache.models_dir()
    assert (ort_int4.path / GENAI_CONFIG).is_file()
    validate_ort_folder(ort_int4.path)
    assert ort_int4.sha256 == sha256_of_folder(ort_int4.path)
    assert ort_int4.size_bytes == sum(p.stat().st_size for p in ort_int4.path.rglob("*"))
    assert 60 * 2**20 < ort_int4.size_bytes < 120 * 2**20  # int4 weights, not float
    f32 = cache.load(ort_int4.origin.parent_sha256)
    assert f32 is not None and f32.quant == "F32"
    assert f32.origin.parent_sha256 == bundled.sha256
    assert lineage_root(ort_int4).sha256 == bundled.sha256
    origin = ort_int4.origin
    assert origin.requantized_from == "Q4_1"
    assert origin.tool_version.startswith("onnxruntime-genai ")
    for tool in ("transformers", "torch", "onnx", "onnx-ir"):
        assert f"{tool} " in origin.note
    assert not [
        p for p in cache.models_dir().iterdir() if p.name.startswith((".partial", ".export"))
    ]


@pytest.mark.slow
def test_second_export_is_reused_and_the_folder_resolves(ort_int4: Artifact) -> None:
    again = export_ort_genai(resolve_model("smollm2-135m-instruct"))
    assert again.action == REUSED and again.artifact.sha256 == ort_int4.sha256
    by_path = resolve_model(str(ort_int4.path))
    assert by_path.sha256 == ort_int4.sha256 and by_path.origin == ort_int4.origin
    assert resolve_model(ort_int4.sha256[:12]).path == ort_int4.path


@pytest.mark.slow
def test_fp32_export_is_float_sized(ort_fp32: Artifact) -> None:
    assert ort_fp32.quant == "fp32"
    assert ort_fp32.size_bytes > 400 * 2**20  # 135M parameters × 4 bytes


def test_missing_converter_is_one_line_naming_the_extra(
    bundled: Artifact, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MELT_CACHE", str(tmp_path))  # nothing exported here yet
    monkeypatch.setitem(sys.modules, "onnx_ir", None)  # Python's own "not importable"
    with pytest.raises(MeltError, match=r"needs onnx-ir: pip install 'melt-bench\[convert\]'$"):
        export_ort_genai(bundled, "int4")
    assert not list(tmp_path.rglob("*.ort-genai"))


def test_a_folder_without_genai_config_is_not_an_ort_model(tmp_path) -> None:
    (tmp_path / "model.onnx").write_bytes(b"")
    with pytest.raises(MeltError, match="not an ONNX Runtime GenAI model: it has no genai_config"):
        validate_ort_folder(tmp_path)
