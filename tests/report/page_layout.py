"""What a person sees of an HTML report in the system Chromium at a given window width: each
figure's box against its grid cell, plotly's axis ranges against the points it was given,
the caption against the mode bar, and whether any script other than the report's ran."""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.report.browser import ARGS, CHROMIUM, RENDER_TIMEOUT_MS

SLACK_PX = 0.5  # sub-pixel rounding of layout boxes

# Per `.melt-plot` cell: its box, the plot's box, the caption's and the mode bar's, any
# title plotly drew itself, and from plotly's own state each axis and each trace's points.
FIGURES_JS = """
() => [...document.querySelectorAll('.melt-plot')].map(cell => {
  const box = e => { if (!e) return null; const r = e.getBoundingClientRect();
    return {left: r.left, right: r.right, top: r.top, bottom: r.bottom}; };
  const gd = cell.querySelector('.js-plotly-plot');
  const fl = gd._fullLayout;
  const axes = {};
  for (const key of Object.keys(fl)) {
    if (/^[xy]axis\\d*$/.test(key)) {
      axes[fl[key]._id] = {type: fl[key].type, range: fl[key].range,
        categories: fl[key]._categories || []};
    }
  }
  const caption = cell.querySelector('figcaption');
  return {
    caption: caption ? caption.textContent : ((fl.title && fl.title.text) || ''),
    cell: box(cell),
    plot: box(gd.querySelector('svg.main-svg')),
    captionBox: box(cell.querySelector('figcaption')),
    modebar: box(gd.querySelector('.modebar')),
    titles: [...gd.querySelectorAll('.gtitle')].map(box),
    areas: [...gd.querySelectorAll('.draglayer .nsewdrag')].map(box),
    axes: axes,
    traces: gd._fullData.map(t => ({
      type: t.type, mode: t.mode || null, name: t.name, xaxis: t.xaxis, yaxis: t.yaxis,
      x: Array.from(t.x || []), y: Array.from(t.y || []),
    })),
    legend: [...gd.querySelectorAll('.legendtext')].map(e => e.textContent),
  };
})
"""


# what the page shows as text: the body without its scripts (plotly's bundle, the figures'
# JSON), including closed <details>
BODY_TEXT_JS = """
() => { const body = document.body.cloneNode(true);
  body.querySelectorAll('script').forEach(s => s.remove()); return body.textContent; }
"""


@dataclass
class Page:
    width: int
    errors: list[str]
    figures: list[dict[str, Any]]
    page_width: float
    body_text: str
    xss: Any
    title: str
    images: int
    scripts: int
    titles_attr: list[str]


def open_report(html: Path, width: int) -> Page:
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=ARGS, viewport={"width": width, "height": 1000}
        )
        page = browser.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(html.resolve().as_uri())
        page.wait_for_function(
            "[...document.querySelectorAll('.melt-plot')]"
            ".every(d => d.querySelector('svg.main-svg'))",
            timeout=RENDER_TIMEOUT_MS,
        )
        found = Page(
            width=width,
            errors=errors,
            figures=page.evaluate(FIGURES_JS),
            page_width=page.evaluate("document.documentElement.scrollWidth"),
            body_text=page.evaluate(BODY_TEXT_JS),
            xss=page.evaluate("window.__xss === undefined ? null : window.__xss"),
            title=page.title(),
            images=page.evaluate("document.querySelectorAll('img').length"),
            scripts=page.evaluate("document.querySelectorAll('script').length"),
            titles_attr=page.evaluate(
                "[...document.querySelectorAll('[title]')].map(e => e.getAttribute('title'))"
            ),
        )
        browser.close()
    return found


def inside(inner: dict[str, float], outer: dict[str, float]) -> bool:
    return all(
        (
            inner["left"] >= outer["left"] - SLACK_PX,
            inner["right"] <= outer["right"] + SLACK_PX,
            inner["top"] >= outer["top"] - SLACK_PX,
            inner["bottom"] <= outer["bottom"] + SLACK_PX,
        )
    )


def overlap(a: dict[str, float] | None, b: dict[str, float] | None) -> bool:
    if a is None or b is None:
        return False
    return (
        min(a["right"], b["right"]) - max(a["left"], b["left"]) > SLACK_PX
        and min(a["bottom"], b["bottom"]) - max(a["top"], b["top"]) > SLACK_PX
    )


def _on_axis(value: Any, axis: dict[str, Any]) -> bool:
    low, high = sorted(axis["range"])
    if axis["type"] == "category":
        position = float(axis["categories"].index(value))
    elif axis["type"] == "log":
        position = math.log10(value)
    else:
        position = float(value)
    return low <= position <= high


def points_outside(figure: dict[str, Any]) -> list[str]:
    """Every stored point (x, y) that falls outside the ranges plotly drew its axes with."""
    outside = []
    for trace in figure["traces"]:
        x_axis = figure["axes"][trace["xaxis"]]
        y_axis = figure["axes"][trace["yaxis"]]
        for x, y in zip(trace["x"], trace["y"], strict=False):
            if x is None or y is None:
                continue
            if not (_on_axis(x, x_axis) and _on_axis(y, y_axis)):
                outside.append(f"{trace['name']} ({x}, {y}) outside {x_axis} × {y_axis}")
    return outside
