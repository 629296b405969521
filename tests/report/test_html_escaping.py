"""Stored XSS: every string a run can carry, stored as HTML that runs script, reaches the
HTML report as text. Opened in Chromium: no script but the report's ran, no element was
injected, and each string that the page shows reads exactly as stored."""

import pytest
from tests.report.odd_runs import add_run, conversations, hostile
from tests.report.page_layout import Page, open_report

from melt.cli.main import run
from melt.store import Store, open_store
from melt.store.scores import add_score

# fields the page shows whole (others, like the sha256, are cut to a prefix, or are not
# shown: model path, workload, error, conversation ids, output text, stop reason; they are stored
# hostile too, so no script may run from them either)
SHOWN = (
    "status",
    "device",
    "framework",
    "framework_version",
    "model_name",
    "model_quant",
    "settings_key",
    "settings_value",
    "notes",
    "host",
    "cpu_model",
    "bandwidth_method",
    "zone",  # the thermal verdict names the hottest zone
    "task",  # the Pareto caption names the accuracy task
)
REPORT_SCRIPTS = 3  # plotly's bundle, the figures' JSON, the script that draws them


def _score(store: Store, sha: str) -> None:
    add_score(
        store,
        model_name="m",
        model_sha256=sha * 64,
        model_quant="q",
        model_path="p",
        task=hostile("task"),
        task_source="test",
        metric="metric",
        unit="",
        value=0.5,
        n=10,
        num_fewshot=0,
        framework="f",
        framework_version="v",
        settings={},
    )


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Page:
    # the store's own path is shown too: a folder named as markup
    folder = tmp_path_factory.mktemp("xss") / hostile("store").replace("/", "")
    folder.mkdir()
    db = folder / "s.db"
    store = open_store(str(db))
    experiment = store.create_experiment(hostile("experiment"), hostile("command"), {})
    for sha, bandwidth in (("a", True), ("b", False)):
        add_run(
            store,
            experiment,
            conversations(2, 3),
            text=hostile,
            sha=sha,
            bandwidth=bandwidth,
            with_samples=True,
            energy=True,
        )
        _score(store, sha)
    store.update_run(1, status=hostile("status"))  # melt writes its own words; a store may not
    html = folder.parent / "report.html"
    argv = ["report", "--experiment", str(experiment), "--html", str(html), "--store", str(db)]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("sys.argv", ["melt", *argv])
        run()
    return open_report(html, 1400)


def test_no_stored_string_runs_as_script(page: Page) -> None:
    assert page.xss is None
    assert page.title == "melt report"
    assert page.images == 0
    assert page.scripts == REPORT_SCRIPTS
    assert page.errors == []  # an injected <img src=x> would log a failed load


@pytest.mark.parametrize("field", SHOWN)
def test_each_shown_string_reads_as_stored(page: Page, field: str) -> None:
    assert hostile(field) in page.body_text


def test_the_store_path_reads_as_stored(page: Page) -> None:
    assert hostile("store").replace("/", "") in page.body_text


def test_the_power_model_source_reads_as_stored(page: Page) -> None:
    assert hostile("power_model_source") in page.titles_attr


def test_plot_labels_read_as_stored(page: Page) -> None:
    legends = [text for figure in page.figures for text in figure["legend"]]
    assert any(hostile("model_name") in text for text in legends)
    assert any(hostile("probe") in text and hostile("channel") in text for text in legends)
