"""Open an HTML file in the system Chromium (headless, through Playwright) and report what a
person would see: console errors, which plot divs plotly drew, a screenshot."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
RENDER_TIMEOUT_MS = 120_000


@dataclass
class PageCheck:
    errors: list[str]
    plots: int
    drawn: int
    offline_requests: list[str]


def open_in_chromium(html: Path, screenshot: Path) -> PageCheck:
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    requests: list[str] = []
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=ARGS, viewport={"width": 1400, "height": 1000}
        )
        page = browser.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on(
            "request",
            lambda r: None if r.url.startswith(("file:", "data:")) else requests.append(r.url),
        )
        page.goto(html.resolve().as_uri())
        page.wait_for_function(
            "[...document.querySelectorAll('.melt-plot')]"
            ".every(d => d.querySelector('svg.main-svg'))",
            timeout=RENDER_TIMEOUT_MS,
        )
        plots = page.evaluate("document.querySelectorAll('.melt-plot').length")
        drawn = page.evaluate(
            "[...document.querySelectorAll('.melt-plot')]"
            ".filter(d => d.querySelector('svg.main-svg g.trace')).length"
        )
        page.screenshot(path=str(screenshot), full_page=True)
        browser.close()
    return PageCheck(errors, plots, drawn, requests)
