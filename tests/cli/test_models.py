"""`melt models` from the command line, including a cache disk that fills up mid-write."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from melt.models import Artifact


def test_quantize_list_inspect(melt: Callable[..., object], bundled: Artifact) -> None:
    made = melt("models", "quantize", "smollm2-135m-instruct", "--to", "q8_0,q4_1")
    assert made.code == 0, made.err
    assert "Q8_0 ×211" in made.out and "unchanged (already this type)" in made.out
    listed = melt("models", "list")
    assert listed.code == 0 and "re-quantized from Q4_1" in listed.out
    doc = melt("models", "inspect", "smollm2-135m-instruct", "--json").json()
    assert doc["parameters"] == 134_515_008 and doc["layers"] == 30
    assert doc["embedding_width"] == 576 and doc["vocabulary"] == 49152
    assert doc["chat_template"] is True and doc["sha256"] == bundled.sha256
    assert {t["ggml_type"] for t in doc["tensor_types"]} == {"Q4_1", "Q8_0", "F32"}


def test_bad_inputs_are_one_line_errors(
    melt: Callable[..., object], bundled: Artifact, tmp_path: Path
) -> None:
    unknown = melt("models", "quantize", "smollm2-135m-instruct", "--to", "q3")
    assert unknown.code == 2 and "unknown quantization 'q3' (valid:" in unknown.err
    truncated = tmp_path / "cut.gguf"
    truncated.write_bytes(bundled.path.read_bytes()[: 20 << 20])
    cut = melt("models", "quantize", str(truncated), "--to", "q8_0")
    assert cut.code == 2 and "truncated" in cut.err and "Traceback" not in cut.err
    sweep = melt("bench", "--quant", "q8_0,q7", "--conversations", "1")
    assert sweep.code == 2 and "--quant" in sweep.err and "q7" in sweep.err


def _limited_file_size(limit_bytes: int) -> Callable[[], None]:
    """A child whose writes past `limit_bytes` fail with EFBIG, as on a full disk."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return apply


def _quantize_in_child(cache: Path, target: str, limit: int | None) -> subprocess.CompletedProcess:
    env = {**os.environ, "MELT_CACHE": str(cache)}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "melt",
            "models",
            "quantize",
            "smollm2-135m-instruct",
            "--to",
            target,
        ],
        env=env,
        capture_output=True,
        text=True,
        preexec_fn=None if limit is None else _limited_file_size(limit),
        check=False,
    )


def test_full_cache_disk_leaves_no_partial_file(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    # The F16 expansion (258 MiB, written by melt) cannot be written past 32 MiB.
    failed = _quantize_in_child(cache, "f16", limit=32 << 20)
    assert failed.returncode == 2, failed.stderr
    message = failed.stderr.strip()
    assert message.count("\n") == 0 and "the disk is full" in message
    assert "no partial file was kept" in message
    assert not [p for p in (cache / "models").iterdir() if p.suffix == ".gguf"]
    # With the F16 in place, llama.cpp's own writer hits the limit while quantizing.
    assert _quantize_in_child(cache, "f16", limit=None).returncode == 0
    before = sorted(p.name for p in (cache / "models").iterdir())
    failed = _quantize_in_child(cache, "q8_0", limit=64 << 20)
    assert failed.returncode == 2, failed.stderr
    assert "could not quantize" in failed.stderr and "Traceback" not in failed.stderr
    assert sorted(p.name for p in (cache / "models").iterdir()) == before


def test_sweep_rows_carry_variant_identity_and_their_own_peak(
    melt: Callable[..., object], tmp_path: Path
) -> None:
    result = melt(
        "bench",
        "--quant",
        "f16,q4_0",
        "--threads",
        "1",
        "--conversations",
        "1",
        "--max-new-tokens",
        "8",
        "--warmup",
        "0",
        "--store",
        str(tmp_path),
        "--json",
    )
    assert result.code == 0, result.err
    f16, q4 = result.json()["cells"]
    assert (f16["model"]["quant"], q4["model"]["quant"]) == ("F16", "Q4_0")
    assert q4["model"]["origin"]["requantized_from"] == "Q4_1"
    assert q4["model"]["bits_per_weight"] < f16["model"]["bits_per_weight"]
    # F16 ran first; a whole-process peak would give Q4_0 the F16 run's peak.
    f16_run, q4_run = f16["runs"][0], q4["runs"][0]
    assert q4_run["peak_rss_source"].startswith("VmHWM")
    assert q4_run["peak_rss_bytes"] < f16_run["peak_rss_bytes"] - 100 * 2**20
