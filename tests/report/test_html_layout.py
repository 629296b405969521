"""The HTML report's layout as Chromium draws it at a laptop width and at 1920 px: every
figure inside its grid cell, every stored point inside the axes plotly drew, captions clear
of plotly's mode bar, one decode line per conversation."""

from pathlib import Path

import pytest
from tests.report.odd_runs import Turn, add_run, conversations
from tests.report.page_layout import Page, inside, open_report, overlap, points_outside

from melt.store import open_store

# the reproduction: a slow turn far right of the others, listed as an outlier
SLOWEST = Turn(1, 4, 468, 468, 1.428, 60.0)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from melt.cli.main import run

    folder = tmp_path_factory.mktemp("layout")
    db = folder / "s.db"
    store = open_store(str(db))
    experiment = store.create_experiment("sweep", "melt bench", {})
    add_run(store, experiment, conversations(2, 4, SLOWEST), sha="a", with_samples=True)
    add_run(store, experiment, conversations(3, 3), sha="b", energy=True)
    html = folder / "report.html"
    argv = ["report", "--experiment", str(experiment), "--html", str(html), "--store", str(db)]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("sys.argv", ["melt", *argv])
        run()
    return html


@pytest.fixture(scope="module", params=[1400, 1920])
def page(request: pytest.FixtureRequest, report: Path) -> Page:
    return open_report(report, request.param)


def test_every_figure_fits_its_cell_and_the_window(page: Page) -> None:
    assert page.errors == []
    assert page.page_width <= page.width  # nothing pushes the page sideways
    assert len(page.figures) == 7  # TTFT, decode, energy, Pareto by size, 2 token steps, probes
    for figure in page.figures:
        assert inside(figure["plot"], figure["cell"]), figure["caption"]


def test_every_stored_point_is_inside_the_axes(page: Page) -> None:
    for figure in page.figures:
        assert points_outside(figure) == [], figure["caption"]
        assert figure["areas"], figure["caption"]
        for area in figure["areas"]:  # and the axes' plotting areas are in view
            assert inside(area, figure["cell"]), figure["caption"]
    ttft = next(f for f in page.figures if f["caption"].startswith("TTFT"))
    points = {(x, y) for t in ttft["traces"] for x, y in zip(t["x"], t["y"], strict=True)}
    assert (SLOWEST.evaluated, SLOWEST.ttft_s) in points


def test_titles_are_clear_of_the_mode_bar(page: Page) -> None:
    for figure in page.figures:
        assert figure["caption"], "every figure has a title"
        assert figure["modebar"] is not None
        for title in [figure["captionBox"], *figure["titles"]]:
            assert not overlap(title, figure["modebar"]), figure["caption"]


def test_decode_vs_depth_draws_a_line_per_conversation(page: Page) -> None:
    decode = next(f for f in page.figures if f["caption"].startswith("decode rate per turn"))
    lines = [t for t in decode["traces"] if "lines" in (t["mode"] or "")]
    assert len(lines) == 2 + 3  # run a: 2 conversations, run b: 3
    for trace in lines:  # a conversation's context only grows
        assert trace["x"] == sorted(trace["x"]), trace
    assert sorted(len(t["x"]) for t in lines) == [3, 3, 3, 4, 5]
