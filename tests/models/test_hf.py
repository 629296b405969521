"""Hugging Face directory → GGUF with llama.cpp's real converter, on a tiny checkpoint built here.

The checkpoint is a 2-layer Llama with random weights and a SentencePiece tokenizer trained on
a few lines of text, both made offline by the test. llama.cpp's `convert_hf_to_gguf.py` comes
from `LLAMA_CPP_DIR` if set, else from the llama-cpp-python sdist of the installed version
(`pip download`, cached under ~/.cache/melt-tests, about a minute the first time).
"""

from __future__ import annotations

import ctypes
import importlib.metadata
import io
import os
import re
import resource
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from melt.errors import MeltError
from melt.models.gguf_file import field_value, quant_name, validate_gguf
from melt.models.hf import (
    CONVERTER,
    convert_hf_dir,
    converted_dir,
    find_converter,
    is_hf_dir,
    llama_cpp_commit,
    source_digest,
)

CORPUS = [
    "How fast does a small language model run on a phone?",
    "Tokens per second, time to first token and energy per token.",
    "The quick brown fox jumps over the lazy dog.",
    "Quantization trades a little accuracy for a lot of memory.",
]
PROMPT = "The quick brown fox"


def _test_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "melt-tests"


def _llama_cpp_from_sdist() -> Path:
    """vendor/llama.cpp of the installed llama-cpp-python's sdist, downloaded once with pip."""
    version = importlib.metadata.version("llama-cpp-python")
    top = f"llama_cpp_python-{version}"
    root = _test_cache() / top
    checkout = root / "vendor" / "llama.cpp"
    if (checkout / CONVERTER).is_file():
        return checkout
    root.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root.parent) as tmp:
        pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
        done = subprocess.run(
            [*pip, f"llama-cpp-python=={version}", "--dest", tmp], capture_output=True, text=True
        )
        if done.returncode != 0:
            pytest.fail(f"could not download the llama-cpp-python sdist: {done.stderr[-2000:]}")
        sdist = next(Path(tmp).glob("llama_cpp_python-*.tar.gz"))
        keep = (f"{top}/vendor/llama.cpp/", f"{top}/.git/modules/vendor/llama.cpp/")
        with tarfile.open(sdist) as tar:
            members = [m for m in tar.getmembers() if m.name.startswith(keep)]
            tar.extractall(Path(tmp) / "x", members=members, filter="data")
        shutil.rmtree(root, ignore_errors=True)
        os.replace(Path(tmp) / "x" / top, root)
    return checkout


@pytest.fixture(scope="session")
def llama_cpp_dir() -> Path:
    env = os.environ.get("LLAMA_CPP_DIR")
    return Path(env) if env else _llama_cpp_from_sdist()


@dataclass(frozen=True)
class TinyCheckpoint:
    path: Path
    prompt_ids: list[int]
    last_logits: np.ndarray  # what transformers computes for the prompt's last position
    vocab_size: int
    layers: int
    width: int


def build_tiny_llama(out: Path) -> TinyCheckpoint:
    """A real HF Llama checkpoint: random weights, 2 layers, a trained SentencePiece model."""
    import sentencepiece as spm
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    out.mkdir(parents=True)
    model_proto = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS * 10),
        model_writer=model_proto,
        vocab_size=300,
        model_type="bpe",
        byte_fallback=True,
        character_coverage=1.0,
        hard_vocab_limit=False,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        minloglevel=2,
    )
    (out / "tokenizer.model").write_bytes(model_proto.getvalue())
    tokenizer = spm.SentencePieceProcessor(model_proto=model_proto.getvalue())
    config = LlamaConfig(
        vocab_size=tokenizer.vocab_size(),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        bos_token_id=1,
        eos_token_id=2,
        tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).eval()
    model.save_pretrained(out)
    ids = [1, *tokenizer.encode(PROMPT)]
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0, -1].numpy().copy()
    return TinyCheckpoint(out, ids, logits, tokenizer.vocab_size(), 2, 64)


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> TinyCheckpoint:
    return build_tiny_llama(tmp_path_factory.mktemp("hf") / "tiny-llama")


@pytest.fixture(scope="session")
def converted(tiny: TinyCheckpoint, llama_cpp_dir: Path) -> tuple[Path, object]:
    return convert_hf_dir(tiny.path, llama_cpp_dir)


def _llama_cpp_run(gguf: Path, text: str) -> tuple[list[int], np.ndarray, dict[str, int]]:
    """Load a GGUF with llama.cpp, tokenize `text`, decode it and return the last logits."""
    import llama_cpp as llama

    llama.llama_backend_init()
    model = llama.llama_model_load_from_file(str(gguf).encode(), llama.llama_model_default_params())
    assert model, f"llama.cpp could not load {gguf}"
    params = llama.llama_context_default_params()
    params.n_ctx, params.n_batch, params.n_threads, params.n_threads_batch = 64, 64, 1, 1
    ctx = llama.llama_init_from_model(model, params)
    try:
        vocab = llama.llama_model_get_vocab(model)
        buf = (llama.llama_token * 64)()
        n = llama.llama_tokenize(vocab, text.encode(), len(text.encode()), buf, 64, True, False)
        ids = list(buf[:n])
        assert llama.llama_decode(ctx, llama.llama_batch_get_one(buf, n)) == 0
        n_vocab = llama.llama_vocab_n_tokens(vocab)
        logits = llama.llama_get_logits_ith(ctx, -1)
        last = np.ctypeslib.as_array(
            ctypes.cast(logits, ctypes.POINTER(ctypes.c_float)), (n_vocab,)
        )
        facts = {
            "layers": llama.llama_model_n_layer(model),
            "width": llama.llama_model_n_embd(model),
            "vocab": n_vocab,
        }
        return ids, last.copy(), facts
    finally:
        llama.llama_free(ctx)
        llama.llama_model_free(model)


def test_converted_gguf_is_f16_and_runs_in_llama_cpp_like_the_hf_model(
    tiny: TinyCheckpoint, converted: tuple[Path, object]
) -> None:
    path, _ = converted
    reader = validate_gguf(path)
    assert quant_name(reader) == "F16"
    assert field_value(reader, "general.architecture") == "llama"
    assert field_value(reader, "tokenizer.ggml.model") == "llama"

    ids, logits, facts = _llama_cpp_run(path, PROMPT)

    assert facts == {"layers": tiny.layers, "width": tiny.width, "vocab": tiny.vocab_size}
    assert ids == tiny.prompt_ids  # llama.cpp tokenizes exactly as SentencePiece does
    scale = float(np.abs(tiny.last_logits).max())
    assert float(np.abs(logits - tiny.last_logits).max()) < 0.01 * scale  # F16 rounding only
    assert int(logits.argmax()) == int(tiny.last_logits.argmax())


def test_conversion_lands_in_the_cache_with_provenance(
    tiny: TinyCheckpoint, converted: tuple[Path, object], llama_cpp_dir: Path
) -> None:
    path, origin = converted
    assert path.parent == converted_dir()
    assert path.name == f"hf-{source_digest(tiny.path)[:16]}.f16.gguf"
    assert origin.source == "hf-dir"
    assert origin.tool == "convert_hf_to_gguf.py"
    assert origin.tool_version == llama_cpp_commit(llama_cpp_dir)
    assert origin.note == str(tiny.path)
    assert not [p for p in converted_dir().iterdir() if p.name.startswith(".partial")]


def test_the_same_files_are_not_converted_twice_and_need_no_llama_cpp(
    tiny: TinyCheckpoint,
    converted: tuple[Path, object],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    path, origin = converted
    before = path.stat().st_mtime_ns
    monkeypatch.delenv("LLAMA_CPP_DIR", raising=False)

    again, again_origin = convert_hf_dir(tiny.path, None)
    moved = tmp_path / "moved-copy"
    shutil.copytree(tiny.path, moved)
    from_copy, _ = convert_hf_dir(moved, None)

    assert again == path == from_copy
    assert again_origin == origin  # the provenance of the run that made it
    assert path.stat().st_mtime_ns == before


def test_a_failing_converter_gives_its_last_stderr_line_and_leaves_no_file(
    tiny: TinyCheckpoint, llama_cpp_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MELT_CACHE", str(tmp_path / "cache"))
    src = tmp_path / "unknown-arch"
    shutil.copytree(tiny.path, src)
    config = (src / "config.json").read_text()
    (src / "config.json").write_text(config.replace("LlamaForCausalLM", "NoSuchModelForCausalLM"))

    with pytest.raises(MeltError) as err:
        convert_hf_dir(src, llama_cpp_dir)

    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("convert_hf_to_gguf.py failed to convert")
    assert "NoSuchModelForCausalLM is not supported" in message
    assert list(converted_dir().iterdir()) == []


def test_a_full_disk_leaves_no_partial_file(
    tiny: TinyCheckpoint, llama_cpp_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RLIMIT_FSIZE makes every write past 64 KiB fail as a full disk would (EFBIG)."""
    monkeypatch.setenv("MELT_CACHE", str(tmp_path / "cache"))
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 << 10, hard))
    try:
        with pytest.raises(MeltError) as err:
            convert_hf_dir(tiny.path, llama_cpp_dir)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))

    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("convert_hf_to_gguf.py could not write into")
    assert "requested and" in message and "no partial file was kept" in message
    assert list(converted_dir().iterdir()) == []


def test_without_a_llama_cpp_checkout_the_error_says_where_to_get_one(
    tiny: TinyCheckpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MELT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("LLAMA_CPP_DIR", raising=False)

    with pytest.raises(
        MeltError, match=r"set LLAMA_CPP_DIR to a llama\.cpp checkout .* vendor/llama\.cpp folder"
    ):
        convert_hf_dir(tiny.path, None)


def test_a_llama_cpp_dir_without_the_converter_is_named(tmp_path: Path) -> None:
    with pytest.raises(MeltError, match=rf"'{tmp_path}' has no convert_hf_to_gguf\.py"):
        find_converter(tmp_path)


def test_the_environment_names_the_checkout(
    llama_cpp_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLAMA_CPP_DIR", str(llama_cpp_dir))
    assert find_converter(None) == llama_cpp_dir / CONVERTER


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({}, "not found"),
        ({"model.safetensors": b""}, "has no config.json"),
        ({"config.json": b"{}", "tokenizer.model": b""}, r"has no weights \(\*\.safetensors"),
    ],
)
def test_a_directory_that_is_not_a_checkpoint_is_refused(
    tmp_path: Path, files: dict[str, bytes], expected: str
) -> None:
    src = tmp_path / "model"
    if files:
        src.mkdir()
    for name, data in files.items():
        (src / name).write_bytes(data)
    with pytest.raises(MeltError, match=expected):
        convert_hf_dir(src, tmp_path)


def test_is_hf_dir(tiny: TinyCheckpoint, tmp_path: Path) -> None:
    assert is_hf_dir(tiny.path)
    assert not is_hf_dir(tmp_path)
    assert not is_hf_dir(tiny.path / "config.json")


def test_source_digest_follows_names_and_contents_but_not_hidden_files(tmp_path: Path) -> None:
    src = tmp_path / "m"
    src.mkdir()
    (src / "config.json").write_text("{}")
    (src / "model.safetensors").write_bytes(b"\x00" * 8)
    first = source_digest(src)

    (src / ".cache").mkdir()
    (src / ".cache" / "download.lock").write_text("x")
    assert source_digest(src) == first

    (src / "model.safetensors").write_bytes(b"\x00" * 7 + b"\x01")
    changed = source_digest(src)
    assert changed != first

    (src / "model.safetensors").rename(src / "other.safetensors")
    assert source_digest(src) not in {first, changed}


def test_llama_cpp_commit_reads_a_git_checkout_and_is_empty_otherwise(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    assert llama_cpp_commit(plain) == ""

    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "x"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True)
    assert llama_cpp_commit(repo) == head.stdout.strip()[:10]


MISSING_TORCH = """Traceback (most recent call last):
  File "/src/llama.cpp/convert_hf_to_gguf.py", line 12, in <module>
    import torch
ModuleNotFoundError: No module named 'torch'
"""


@pytest.mark.parametrize(
    ("returncode", "stderr", "expected"),
    [
        (
            1,
            MISSING_TORCH,
            r"could not run \(ModuleNotFoundError: No module named 'torch'\); install its "
            r"requirements into this Python with: .* -m pip install -r "
            r"/src/llama\.cpp/requirements/requirements-convert_hf_to_gguf\.txt$",
        ),
        (-9, "INFO:hf-to-gguf:Loading model: big\n", r"was killed by SIGKILL .*out of memory"),
        (
            1,
            "Writing:  10%\nOSError: [Errno 28] No space left on device\nWriting:  10%\r",
            r"could not write into .*No space left on device.*no partial file was kept",
        ),
    ],
)
def test_converter_failures_become_actionable_one_liners(
    returncode: int, stderr: str, expected: str
) -> None:
    from melt.models.hf import _failure

    error = _failure(Path("/m"), Path("/src/llama.cpp") / CONVERTER, returncode, stderr)
    assert "\n" not in str(error)
    assert re.search(expected, str(error))


def test_a_hf_dir_is_a_model_everywhere_and_quantizes_from_its_own_f16(
    melt, tiny: TinyCheckpoint, llama_cpp_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("LLAMA_CPP_DIR", raising=False)
    made = melt(
        "models", "quantize", str(tiny.path), "--to", "q8_0", "--llama-cpp-dir", str(llama_cpp_dir)
    )
    assert made.code == 0, made.err
    assert "made" in made.out and "re-quantized" not in made.out
    listed = melt("models", "list")
    assert "hf-dir by convert_hf_to_gguf.py" in listed.out
    doc = melt("models", "inspect", str(tiny.path), "--json").json()
    assert doc["file_type"] == "F16" and doc["origin"]["source"] == "hf-dir"
    assert doc["origin"]["requantized_from"] == ""
    assert melt("models", "inspect", doc["sha256"][:12], "--json").json()["name"] == "tiny-llama"
