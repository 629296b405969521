"""`melt import` reads only what it was given: inside the folder (a link to a file or a
folder outside is refused, not followed), regular files only (a link to /dev/zero, a
pipe), and no source past the size limit; each refusal is one line."""

import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from melt.traces.importers.sources import MAX_SOURCE_BYTES

SRC = Path(__file__).resolve().parents[3] / "src"
LAYOUT = Path(__file__).resolve().parents[2] / "fixtures" / "melt" / "layout"
RUN = LAYOUT / "Pixel7" / "llama.cpp" / "smollm2-135m-q4_1" / "run_cs2048_mgl64"
PASSWD = "root:x:0:0:root:/root:/bin/bash\n"
# a regression that reads /dev/zero or a huge file whole dies here, not the machine
MEMORY_LIMIT_BYTES = 1 << 30


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A results folder with one real log, and links that leave it: a llama.cpp log that
    is really a passwd-like file elsewhere, a run folder elsewhere, /dev/zero."""
    outside = tmp_path / "outside"
    (outside / "run_cs512_mgl8").mkdir(parents=True)
    secret = outside / "passwd"
    secret.write_text(PASSWD + (RUN / "llama_iter1.log").read_text(), encoding="utf-8")
    shutil.copy(RUN / "llama_iter1.log", outside / "run_cs512_mgl8" / "llama_iter0.log")
    run = tmp_path / "given" / "Pixel7" / "llama.cpp" / "m" / "run_cs2048_mgl64"
    run.mkdir(parents=True)
    shutil.copy(RUN / "llama_iter0.log", run / "llama_iter0.log")
    (run / "secret_iter5.log").symlink_to(secret)
    (run / "zero_iter6.log").symlink_to("/dev/zero")
    os.mkfifo(run / "pipe_iter7.log")
    (run / "logs_iter8.zip").write_bytes(b"PK\x03\x04" + bytes(64))
    (run.parent / "run_cs512_mgl8").symlink_to(outside / "run_cs512_mgl8")
    return tmp_path / "given"


def test_a_folder_import_stays_inside_the_folder(melt, folder: Path, tmp_path: Path) -> None:
    result = melt("import", str(folder), "--store", str(tmp_path / "s.db"))
    assert result.code == 0, result.err
    text = " ".join(result.out.split())  # the console wraps long lines
    assert "secret_iter5.log: refused: import source" in text
    assert "links outside" in text and "(to '" in text
    assert "run_cs512_mgl8: a link to a folder, not followed" in text
    assert "zero_iter6.log: refused:" in text  # a link outside, to /dev/zero
    assert "pipe_iter7.log: refused:" in text and "is a pipe" in text
    assert "logs_iter8.zip: refused:" in text and "does not read archives" in text
    assert "root:x:0:0" not in result.out + result.err
    assert "1 run folder(s), 1 iteration(s)" in text
    assert "run(s) 1 in" in text  # the one log inside, nothing from outside


def _import(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`melt import` in a process that cannot grow past MEMORY_LIMIT_BYTES."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))

    env = {**os.environ, "PYTHONPATH": str(SRC)}
    argv = [sys.executable, "-m", "melt", "import", *args, "--store", str(cwd / "s.db")]
    # the timeout only bounds a regression that blocks on a pipe; nothing is timed
    return subprocess.run(
        argv, capture_output=True, text=True, env=env, cwd=cwd, preexec_fn=limit, timeout=120
    )


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda p: p.symlink_to("/dev/zero"), "is a character device"),
        (lambda p: os.mkfifo(p), "is a pipe"),
        (lambda p: p.open("wb").truncate(MAX_SOURCE_BYTES + 1), "over the 1 GiB"),
        (lambda p: p.write_bytes(b"\x1f\x8b" + bytes(64)), "is a gzip archive"),
    ],
    ids=["link-to-dev-zero", "pipe", "past-the-limit", "archive"],
)
def test_a_named_source_that_is_no_regular_file_or_too_large_is_refused(
    tmp_path: Path, make, says: str
) -> None:
    source = tmp_path / "capture.csv"
    make(source)
    done = _import(str(source), "--format", "monsoon", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"melt: error: import source '{source}'")
    assert says in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
