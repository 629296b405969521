"""Messages that say what is really wrong: an archive is named as one, a missing file gets the
fix of the command it was given to, a store URL's unknown driver is refused rather than
swapped for melt's own."""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.conftest import CliResult

from melt.errors import MeltError
from melt.store.location import locate


def _zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("run/trace.json", '{"traceEvents": []}')
    return path


def _tgz(path: Path) -> Path:
    with tarfile.open(path, "w:gz") as t:
        data = b'[["hello"]]'
        info = tarfile.TarInfo("w.json")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    return path


def _tar(path: Path) -> Path:
    with tarfile.open(path, "w") as t:
        t.add(_zip(path.with_suffix(".zip")), arcname="inner.zip")
    return path


def _gz(path: Path) -> Path:
    path.write_bytes(gzip.compress(b'[["hello"]]'))
    return path


ARCHIVES: dict[str, tuple[Callable[[Path], Path], str, str]] = {
    "zip": (_zip, "x.zip", "zip"),
    "tar.gz": (_tgz, "x.tar.gz", "gzip"),
    "tar": (_tar, "x.tar", "tar"),
    "json.gz": (_gz, "w.json.gz", "gzip"),
}


@pytest.mark.parametrize("kind", sorted(ARCHIVES))
@pytest.mark.parametrize("command", ["import", "import --format melt-events", "bench"])
def test_an_archive_is_named_as_one(
    tmp_path: Path, melt: Callable[..., CliResult], kind: str, command: str
) -> None:
    make, name, said = ARCHIVES[kind]
    archive = make(tmp_path / name)
    store = ("--store", str(tmp_path / "melt.db"))
    if command == "bench":
        r = melt("bench", "--workload", str(archive), *store)
    else:
        r = melt(*command.split(), str(archive), *store)
    assert r.code == 2, r.err
    assert f"'{archive}' is a {said} archive, and archives are not supported" in r.err
    assert "extract it" in r.err and "UTF-8" not in r.err and r.err.strip().count("\n") == 0


def test_workload_stats_says_its_own_fix(tmp_path: Path, melt: Callable[..., CliResult]) -> None:
    r = melt("workload", "stats", str(tmp_path / "nosuch.json"))
    assert r.code == 2
    assert "not found (pass a conversation file or builtin:chat)" in r.err
    assert "--workload" not in r.err  # stats takes the file as its argument


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgresql+nosuch://melt@127.0.0.1/melt", "nosuch"),
        ("postgresql+psycopg2://melt@127.0.0.1/melt", "psycopg2"),
        ("sqlite+nosuch:///melt.db", "nosuch"),
    ],
)
def test_an_unknown_store_driver_is_refused(url: str, driver: str) -> None:
    with pytest.raises(MeltError) as caught:
        locate(url)
    message = str(caught.value)
    assert f"not '{driver}'" in message and "\n" not in message


@pytest.mark.parametrize(
    "url", ["postgresql://melt@127.0.0.1/melt", "postgresql+psycopg://melt@127.0.0.1/melt"]
)
def test_melts_own_driver_is_still_taken(url: str) -> None:
    assert locate(url).url.drivername == "postgresql+psycopg"
