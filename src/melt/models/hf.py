"""A local Hugging Face model directory → an F16 GGUF, made by llama.cpp's own converter.

melt does not reimplement the conversion: llama.cpp's `convert_hf_to_gguf.py` knows every
architecture llama.cpp can run, and the GGUF it writes is the one llama.cpp expects. The
converter comes from a llama.cpp checkout the user names (`--llama-cpp-dir` or
`LLAMA_CPP_DIR`); the `vendor/llama.cpp` folder of the llama-cpp-python sdist is one.

The result lands in `cache_dir()/models/converted`, named by a content hash of the source
directory's files, so converting the same checkpoint again costs nothing. It is written to a
temporary name and renamed once complete: a failing converter or a full disk leaves no
partial file.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

from melt.errors import MeltError
from melt.models.artifact import Origin, cache_dir, sha256_of
from melt.models.gguf_file import validate_gguf

log = logging.getLogger(__name__)

CONVERTER = "convert_hf_to_gguf.py"
LLAMA_CPP_DIR_ENV = "LLAMA_CPP_DIR"
CONVERTER_REQUIREMENTS = Path("requirements") / "requirements-convert_hf_to_gguf.txt"
WEIGHT_SUFFIXES = (".safetensors", ".bin")
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
# A Python exception line (`OSError: ...`) or a logged error (`ERROR:hf-to-gguf:...`).
_ERROR_LINE = re.compile(r"^([A-Za-z_][\w.]*(Error|Exception|Interrupt)\b.*|ERROR:.*)$")
# numpy's `tofile` on a full disk: "OSError: 19200 requested and 9216 written".
_SHORT_WRITE = re.compile(r"\d+ requested and \d+ written")
_DISK_HINT = "free some space or set MELT_CACHE to a larger disk (no partial file was kept)"
_WHERE_TO_GET_IT = (
    "set LLAMA_CPP_DIR to a llama.cpp checkout "
    "(git clone https://github.com/ggml-org/llama.cpp) or to the vendor/llama.cpp folder of "
    "the llama-cpp-python sdist (pip download --no-deps --no-binary :all: llama-cpp-python)"
)


def is_hf_dir(path: Path) -> bool:
    """Whether `path` looks like a Hugging Face model directory (it holds a config.json)."""
    return path.is_dir() and (path / "config.json").is_file()


def converted_dir() -> Path:
    return cache_dir() / "models" / "converted"


def find_converter(llama_cpp_dir: Path | None) -> Path:
    """llama.cpp's `convert_hf_to_gguf.py` in `llama_cpp_dir`, else in `LLAMA_CPP_DIR`."""
    if llama_cpp_dir is None and os.environ.get(LLAMA_CPP_DIR_ENV):
        llama_cpp_dir = Path(os.environ[LLAMA_CPP_DIR_ENV])
    if llama_cpp_dir is None:
        raise MeltError(
            f"converting a Hugging Face directory needs llama.cpp's {CONVERTER}: {_WHERE_TO_GET_IT}"
        )
    script = llama_cpp_dir.expanduser() / CONVERTER
    if not script.is_file():
        raise MeltError(
            f"llama.cpp directory '{llama_cpp_dir}' has no {CONVERTER}; {_WHERE_TO_GET_IT}"
        )
    return script


def llama_cpp_commit(llama_cpp_dir: Path) -> str:
    """The short git commit of a llama.cpp checkout, or "" when it is not a git checkout
    (its own `.git`, so a folder inside some other repository does not borrow its commit)."""
    git = shutil.which("git")
    if git is None or not (llama_cpp_dir / ".git").exists():
        return ""
    done = subprocess.run(
        [git, "-C", str(llama_cpp_dir), "rev-parse", "--short=10", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() if done.returncode == 0 else ""


def _source_files(src: Path) -> list[Path]:
    """Every file of a model directory, skipping hidden ones (e.g. a `.cache` of downloads)."""
    return sorted(
        path
        for path in src.rglob("*")
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(src).parts)
    )


def source_digest(src: Path) -> str:
    """A sha256 over the relative names and contents of a model directory's files."""
    digest = hashlib.sha256()
    for path in _source_files(src):
        digest.update(path.relative_to(src).as_posix().encode())
        digest.update(b"\0")
        digest.update(sha256_of(path).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def _check_source(src: Path) -> None:
    if not src.is_dir():
        raise MeltError(f"Hugging Face model directory '{src}' not found (pass a directory path)")
    if not (src / "config.json").is_file():
        raise MeltError(
            f"'{src}' is not a Hugging Face model directory: it has no config.json "
            "(pass the folder that holds config.json, the weights and the tokenizer)"
        )
    if not any(path.name.endswith(WEIGHT_SUFFIXES) for path in src.iterdir()):
        raise MeltError(
            f"Hugging Face model directory '{src}' has no weights (*.safetensors or *.bin); "
            "download the whole model folder"
        )


def _last_line(stderr: str) -> str:
    """The converter's last error line: its exception or `ERROR:` log line, not the progress
    bar tqdm redraws after it; else its last line."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if _ERROR_LINE.match(line)]
    return (errors or lines or ["no output"])[-1]


def _failure(src: Path, script: Path, returncode: int, stderr: str) -> MeltError:
    last = _last_line(stderr)
    if returncode < 0:
        name = signal.Signals(-returncode).name
        return MeltError(
            f"{CONVERTER} was killed by {name} while converting '{src}' "
            "(out of memory? close other programs or convert on a larger machine)"
        )
    if "ModuleNotFoundError" in last or "ImportError" in last:
        requirements = script.parent / CONVERTER_REQUIREMENTS
        return MeltError(
            f"{CONVERTER} could not run ({last}); install its requirements into this Python "
            f"with: {sys.executable} -m pip install -r {requirements}"
        )
    if _SHORT_WRITE.search(last) or any(os.strerror(code) in last for code in _DISK_FULL):
        return MeltError(
            f"{CONVERTER} could not write into '{converted_dir()}' ({last}); {_DISK_HINT}"
        )
    return MeltError(f"{CONVERTER} failed to convert '{src}': {last}")


def _output_path(digest: str) -> Path:
    """Named by content alone, so a copied or moved directory is not converted again."""
    return converted_dir() / f"hf-{digest[:16]}.f16.gguf"


def _sidecar(out: Path) -> Path:
    return out.with_name(out.name + ".json")


def _cached(out: Path) -> Origin | None:
    """The provenance of an earlier conversion, if its GGUF and sidecar are both there."""
    try:
        meta = json.loads(_sidecar(out).read_text())
    except (OSError, ValueError):
        return None
    return Origin(**meta) if out.is_file() else None


def convert_hf_dir(src: Path, llama_cpp_dir: Path | None = None) -> tuple[Path, Origin]:
    """Convert a Hugging Face model directory to an F16 GGUF, or reuse an earlier conversion.

    Returns the GGUF's path in melt's cache and its provenance: source `hf-dir`, tool
    `convert_hf_to_gguf.py` at the llama.cpp commit that ran (when the checkout is a git
    checkout), and the source directory in `note`. A directory converted before (same file
    names and contents) is not converted again and needs no llama.cpp checkout.
    """
    src = src.expanduser().resolve()
    _check_source(src)
    out = _output_path(source_digest(src))
    if (earlier := _cached(out)) is not None:
        log.info("reusing %s, converted earlier from %s", out, src)
        return out, earlier
    script = find_converter(llama_cpp_dir)
    origin = Origin(
        source="hf-dir",
        tool=CONVERTER,
        tool_version=llama_cpp_commit(script.parent),
        note=str(src),
    )
    tmp = out.with_name(f".partial-{os.getpid()}-{out.name}")
    command = [sys.executable, str(script), str(src), "--outfile", str(tmp), "--outtype", "f16"]
    log.info("converting %s with %s", src, script)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise _failure(src, script, done.returncode, done.stderr)
        validate_gguf(tmp)
        _sidecar(out).write_text(json.dumps(asdict(origin), indent=1))
        os.replace(tmp, out)
    except OSError as exc:
        raise MeltError(
            f"could not write the converted model into '{out.parent}' ({exc.strerror or exc}); "
            f"{_DISK_HINT}"
        ) from None
    finally:
        tmp.unlink(missing_ok=True)
    log.info("converted %s to %s", src, out)
    return out, origin
