"""`melt bench --framework onnxruntime-genai` as a user types it, on the real int4 export."""

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from melt.models import Artifact

FAST = ("--threads", "1", "--max-new-tokens", "4", "--conversations", "1", "--warmup", "0")


@pytest.mark.slow
def test_bench_runs_the_int4_export_and_stores_its_settings(
    melt: Callable, ort_int4: Artifact, ort_preparing: list[str], tmp_path: Path
) -> None:
    # from the F32 expansion of the bundled Q4_1 ("dequantizing …" shows only when no earlier
    # test made that F32 already)
    assert any("GGUF F32 → Hugging Face" in m for m in ort_preparing)
    assert any("model builder" in m for m in ort_preparing)
    store = tmp_path / "melt.db"
    result = melt(
        "bench", "--framework", "onnxruntime-genai", *FAST, "--store", str(store), "--json"
    )
    assert result.code == 0, result.err
    doc = result.json()
    (cell,) = doc["cells"]
    assert cell["model"]["sha256"] == ort_int4.sha256
    assert cell["model"]["format"] == "ort-genai" and cell["model"]["quant"] == "int4"
    assert cell["settings"]["engine"] == {
        "framework": "onnxruntime-genai",
        "provider": "cpu",
        "provider_options": {},
    }
    with sqlite3.connect(store) as db:
        framework, version, info = db.execute(
            "select framework, framework_version, framework_system_info from runs"
        ).fetchone()
        evaluated, reused = db.execute(
            "select sum(prompt_tokens_evaluated), sum(prompt_tokens_reused) from turns"
        ).fetchone()
    assert framework == "onnxruntime-genai" and version.startswith("onnxruntime-genai ")
    assert "cpu" in info
    assert evaluated > 0 and reused > 0  # the built-in conversation has several turns
    listed = melt("runs", "list", "--store", str(store))
    assert "onnxruntime" in listed.out  # the list may fold it at 160 columns
    shown = melt("runs", "show", "1", "--store", str(store))
    assert "onnxruntime-genai" in shown.out and "CPU" in shown.out  # its compute, too


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--provider", "nosuch"], "unknown execution provider 'nosuch'"),
        (["--framework", "llama.cpp"], "llama.cpp runs GGUF files"),
    ],
)
def test_bad_ort_input_on_the_export_is_one_line(
    melt: Callable, ort_int4: Artifact, tmp_path: Path, args: list[str], message: str
) -> None:
    base = ["--framework", "onnxruntime-genai", "--model", str(ort_int4.path)]
    result = melt("bench", *base, *args, *FAST, "--store", str(tmp_path / "m.db"))
    assert result.code == 2
    assert message in result.err and len(result.err.strip().splitlines()) == 1
    assert not (tmp_path / "m.db").exists() or "runs" not in result.out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--flash-attn", "on"], "--flash-attn is not a setting of onnxruntime-genai"),
        (["--batch", "256"], "--batch is not a setting of onnxruntime-genai"),
        (["--quant", "q4_0"], "unknown quantization 'q4_0' (valid: int4, fp32)"),
        (["--model", "{folder}"], "is not an ONNX Runtime GenAI model: it has no genai_config"),
    ],
)
def test_bad_ort_input_is_one_line(
    melt: Callable, tmp_path: Path, args: list[str], message: str
) -> None:
    folder = tmp_path / "not-a-model"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(b"\0")
    args = [a.replace("{folder}", str(folder)) for a in args]
    result = melt("bench", "--framework", "onnxruntime-genai", *args, *FAST)
    assert result.code == 2
    assert message in result.err and len(result.err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--provider", "cpu"], "--provider is not a setting of llama.cpp"),
        (["--cpu-mask", "zz"], "--cpu-mask: value error, expected a non-zero hex"),
        (["--cache-type-k", "q3"], "--cache-type-k: input should be"),
    ],
)
def test_bad_llama_cpp_knobs_are_one_line(melt: Callable, args: list[str], message: str) -> None:
    result = melt("bench", *args, *FAST)
    assert result.code == 2
    assert message in result.err and len(result.err.strip().splitlines()) == 1
