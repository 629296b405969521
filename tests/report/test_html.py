"""The HTML report, opened in a real headless Chromium: no console errors, no network,
every plot drawn by plotly, a screenshot produced."""

from pathlib import Path

from tests.report.browser import open_in_chromium
from tests.report.stores import add_run, sweep_store

ESTIMATED_ENERGY = {
    "j_per_generated_token": {"median": 0.05},
    "j_per_prompt_token": {"median": 0.01},
    "provenance": "estimated",
    "source": "ESTIMATED by cpu_power_model",
}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_html_report_renders_every_plot_offline_in_chromium(melt, tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    store = sweep_store(db)
    add_run(store, 1, [120, 121, 119], [0.3] * 3, "Q6_K", "d", energy=ESTIMATED_ENERGY)
    html = tmp_path / "report.html"
    result = melt("report", "--experiment", "1", "--html", str(html), "--store", str(db))
    assert result.code == 0, result.err
    text = html.read_text(encoding="utf-8")
    assert "cdn" not in text.lower().split("<body>")[1]  # no CDN script in the page
    assert 'class="estimated"' in text  # ESTIMATED energy is styled apart
    assert "Pareto view" in text
    shot = tmp_path / "shot.png"
    page = open_in_chromium(html, shot)
    assert page.errors == []
    assert page.offline_requests == []
    # across runs: TTFT, decode vs depth, energy; one Pareto (decode vs size); per run the
    # token steps, and the probe timeline of the run with samples
    assert page.plots == 3 + 1 + 3 + 1
    assert page.drawn == page.plots
    assert shot.read_bytes()[:8] == PNG_MAGIC
