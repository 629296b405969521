"""Where `melt report` writes: a folder, a missing folder or an unwritable place is one
line and exit 2 before any work (never a traceback, never files beside the folder);
--html with --format writes both; --output without --format is refused."""

from pathlib import Path
from typing import Any

import pytest
from tests.report.odd_runs import add_run, conversations

from melt.store import open_store

OUTPUTS = {
    "html": ("--html",),
    "md": ("--format", "md", "--output"),
    "csv": ("--format", "csv", "--output"),
}


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = tmp_path / "store" / "s.db"
    path.parent.mkdir()
    store = open_store(str(path))
    store.create_experiment("e", "melt bench", {})
    add_run(store, 1, conversations(1, 3))
    return str(path)


def _refused(result: Any, says: str) -> None:
    assert result.code == 2, result.err
    assert result.err.startswith("melt: error: ")
    assert says in result.err
    assert len(result.err.strip().splitlines()) == 1


@pytest.mark.parametrize("kind", OUTPUTS)
def test_a_folder_is_refused_and_nothing_is_written_beside_it(
    melt, db: str, tmp_path: Path, kind: str
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    _refused(melt("report", "1", *OUTPUTS[kind], str(folder), "--store", db), "is a folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "store"]
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("kind", OUTPUTS)
def test_a_missing_folder_is_refused(melt, db: str, tmp_path: Path, kind: str) -> None:
    target = tmp_path / "nope" / "report.out"
    _refused(melt("report", "1", *OUTPUTS[kind], str(target), "--store", db), "does not exist")


@pytest.mark.parametrize("kind", OUTPUTS)
def test_an_unwritable_place_is_refused(melt, db: str, kind: str) -> None:
    # /proc takes no new files, not even from root
    result = melt("report", "1", *OUTPUTS[kind], "/proc/melt-report.out", "--store", db)
    _refused(result, "'/proc/melt-report.out'")


def test_html_and_format_write_both(melt, db: str, tmp_path: Path) -> None:
    html, md = tmp_path / "r.html", tmp_path / "r.md"
    result = melt(
        "report", "1", "--html", str(html), "--format", "md", "--output", str(md), "--store", db
    )
    assert result.code == 0, result.err
    assert "<!DOCTYPE html>" in html.read_text(encoding="utf-8")
    assert md.read_text(encoding="utf-8").startswith("## summary")
    assert f"wrote {html}" in result.err and f"wrote {md}" in result.err


def test_output_without_format_is_refused(melt, db: str, tmp_path: Path) -> None:
    result = melt("report", "1", "--output", str(tmp_path / "r.md"), "--store", db)
    _refused(result, "--output")
    assert not (tmp_path / "r.md").exists()


def test_one_file_for_two_outputs_is_refused(melt, db: str, tmp_path: Path) -> None:
    same = str(tmp_path / "r.out")
    result = melt("report", "1", "--html", same, "--format", "md", "--output", same, "--store", db)
    _refused(result, "both name")


@pytest.mark.parametrize("wpm", ["nan", "inf", "0"])
def test_a_reading_speed_that_is_no_finite_positive_number_is_refused(
    melt, db: str, wpm: str
) -> None:
    result = melt("report", "1", "--format", "json", "--reading-wpm", wpm, "--store", db)
    _refused(result, "--reading-wpm must be a finite number > 0")
