"""Shared fixtures: the real bundled model, temporary stores, and an in-process CLI runner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.bench_process import LONG_CONVERSATION, SRC, BenchProcess

from melt.cli.main import run
from melt.models import Artifact, resolve_model


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep tests out of the user's ~/.cache/melt."""
    mp = pytest.MonkeyPatch()
    mp.setenv("MELT_CACHE", str(tmp_path_factory.mktemp("melt-cache")))
    yield
    mp.undo()


@pytest.fixture(scope="session")
def bundled() -> Artifact:
    return resolve_model("smollm2-135m-instruct")


@pytest.fixture(scope="session")
def llama_server_binary() -> Path:
    """llama.cpp's llama-server for this machine: `$MELT_LLAMA_SERVER`, else the CI cache,
    built there from the llama-cpp-python sdist's vendored llama.cpp when missing (the only
    download is that sdist, from PyPI)."""
    from melt.frameworks.llama_server.framework import BINARY_ENV, cached_binary

    if os.environ.get(BINARY_ENV):
        return Path(os.environ[BINARY_ENV])
    if not cached_binary().is_file():
        script = Path(__file__).resolve().parents[1] / ".ci" / "build-llama-cpp-tools"
        subprocess.run([str(script)], check=True, stdout=subprocess.DEVNULL)
    return cached_binary()


ORT_PREPARING: list[str] = []  # what `melt bench` would show while making the int4 model


@pytest.fixture(scope="session")
def ort_int4(bundled: Artifact) -> Artifact:
    """The bundled model as ONNX Runtime GenAI int4, made once per session into the
    session's cache the way `melt bench --framework onnxruntime-genai` makes it on first use
    (the real transformers + model-builder path, ~1 minute); its steps land in
    `ORT_PREPARING`."""
    from melt.frameworks import get_framework

    return get_framework("onnxruntime-genai").variant(bundled.name, None, ORT_PREPARING.append)


@pytest.fixture(scope="session")
def ort_preparing(ort_int4: Artifact) -> list[str]:
    """The progress lines making `ort_int4` reported (empty if it was already cached)."""
    return ORT_PREPARING


@pytest.fixture(scope="session")
def ort_fp32(bundled: Artifact) -> Artifact:
    from melt.models.ort_export import export_ort_genai

    return export_ort_genai(bundled, "fp32").artifact


@pytest.fixture
def bench_process(tmp_path: Path) -> Iterator[Callable[..., BenchProcess]]:
    """Start `melt bench` in a subprocess on `LONG_CONVERSATION` (8 new tokens a turn, one
    thread, no warmup) with extra flags; one still running at the test's end is killed."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: str) -> BenchProcess:
        workload = tmp_path / "long.json"
        workload.write_text(json.dumps(LONG_CONVERSATION))
        store = tmp_path / "melt.db"
        argv = [sys.executable, "-m", "melt", "bench", "--workload", str(workload)]
        argv += ["--store", str(store), "--max-new-tokens", "8", "--ctx", "4096"]
        argv += ["--warmup", "0", "--threads", "1", *args]
        proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(SRC)},
        )
        started.append(proc)
        return BenchProcess(proc, store)

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> dict:
        return json.loads(self.out)


@pytest.fixture
def melt(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., CliResult]:
    """Run the `melt` entry point in process, as a user would type it."""

    def invoke(*args: str) -> CliResult:
        monkeypatch.setattr(sys, "argv", ["melt", *args])
        capsys.readouterr()
        try:
            run()
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return invoke


@pytest.fixture
def workload_file(tmp_path: Path) -> Callable[[object], Path]:
    def write(content: object, name: str = "w.json") -> Path:
        path = tmp_path / name
        path.write_text(content if isinstance(content, str) else json.dumps(content))
        return path

    return write
