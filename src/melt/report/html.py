"""One self-contained HTML report: plotly's offline bundle embedded once (no CDN, works
without a network), every figure a div drawn by it, tables as plain HTML.

Escaped by construction: the template is rendered with autoescaping and never marks a
value safe; the few cells with markup are `markupsafe.Markup` templates whose every
argument is escaped by `Markup.format`. The figures travel as one JSON document in a
``<script type="application/json">`` (``<``, ``>``, ``&`` and ``'`` escaped as JSON unicode escapes)
and are drawn by one script after the page is parsed, each at the width of its grid cell
(a figure drawn while the page is still being parsed would take the width of a half-built
grid)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import markupsafe
from jinja2.utils import htmlsafe_json_dumps

from melt.errors import MeltError
from melt.extras import install_hint
from melt.metrics.stats import CV_FLAG_THRESHOLD, Aggregate
from melt.report import plots
from melt.report.backends import BACKEND_COLUMNS, BACKEND_NOTE, backend_cells, compute_label
from melt.report.content import RATE_SHOWN, ReportContent, RunView, environment_rows
from melt.report.units import fmt, fmt_bytes

TEMPLATE = Path(__file__).with_name("templates") / "report.html.j2"
PLOT_CONFIG = {"displaylogo": False, "responsive": True}
MARKS = {True: ("✔", "ok"), False: ("✘", "bad"), None: ("–", "na")}
FLAG = markupsafe.Markup(' <span class="flag" title="CV above the threshold">⚑</span>')


def _median_ci(agg: Aggregate, digits: int) -> str:
    if not agg.n:
        return "–"
    return f"{fmt(agg.median, digits)} [{fmt(agg.ci_low, digits)}–{fmt(agg.ci_high, digits)}]"


def _rate_cell(v: RunView, name: str, with_cv: bool) -> markupsafe.Markup:
    rate = v.rates[name]
    text = markupsafe.escape(f"{_median_ci(rate.per_turn, 1)}; {fmt(rate.pooled, 1)}")
    if with_cv and not math.isnan(rate.cv):
        text += f"; CV {100 * rate.cv:.1f}%"
        if v.flagged_cv:
            text += FLAG
    return text


def _energy_cell(v: RunView) -> markupsafe.Markup:
    if v.energy is None or v.energy.j_per_generated_token is None:
        return markupsafe.Markup('<span class="na">not measured</span>')
    css = "estimated" if v.energy.provenance == "estimated" else "measured"
    return markupsafe.Markup('<span class="{}" title="{}">{:.4f} J</span>').format(
        css, v.energy.source, v.energy.j_per_generated_token
    )


def _summary_row(v: RunView) -> dict[str, Any]:
    r = v.run
    return {
        "run": f"{r['id']} (exp {r['experiment_id']}, {r['status']})",
        "model": f"{r['model_name']} {r['model_quant']} · {str(r['model_sha256'])[:12]}",
        "size": fmt_bytes(r["model_size_bytes"]),
        "framework": f"{r['framework']} {r['framework_version']} on {r['device']}",
        "compute": compute_label(r),
        "threads_ctx": f"{fmt(r['threads'])} / {fmt(r['ctx'])}",
        "turns": len(v.turns),
        "ttft": _median_ci(v.latency["ttft_s"], 3),
        "prefill": _rate_cell(v, "prefill_tok_per_s", with_cv=False),
        "decode": _rate_cell(v, "decode_tok_per_s", with_cv=True),
        "energy": _energy_cell(v),
        "roofline": "–"
        if v.roofline.result is None
        else f"{100 * v.roofline.result.fraction_of_limit:.0f}% of limit",
    }


def _qoe_rows(content: ReportContent) -> list[dict[str, Any]]:
    rows = []
    for v in content.runs:
        cells = []
        for q in v.qoe:
            mark, css = MARKS[q.ok]
            cells.append({"verdict": q.verdict, "mark": mark, "css": css, "detail": q.detail})
        rows.append({"run": v.run_id, "cells": cells})
    return rows


def _plotly_js() -> str:
    try:
        from plotly.offline import get_plotlyjs
    except ImportError:
        raise MeltError(
            f"the HTML report needs plotly; install it with {install_hint('report')}"
        ) from None
    return get_plotlyjs()


def _json_safe(value: Any) -> Any:
    """`value` with every NaN or infinity as null: JSON has neither, and one in a figure
    would stop `JSON.parse`, so no figure of the page would be drawn."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


class _Figures:
    """The report's figures by div id, for the page's JSON document."""

    def __init__(self) -> None:
        self.by_id: dict[str, dict[str, Any]] = {}

    def add(self, figures: list[plots.Figure]) -> list[dict[str, str]]:
        """Each figure's div id and caption, for the template."""
        placed = []
        for fig in figures:
            div = f"plot-{len(self.by_id) + 1}"
            self.by_id[div] = {"data": fig.data, "layout": fig.layout}
            placed.append({"id": div, "title": fig.title})
        return placed

    def document(self) -> markupsafe.Markup:
        document = {"figures": _json_safe(self.by_id), "config": PLOT_CONFIG}
        return htmlsafe_json_dumps(document, allow_nan=False)


def render_html(content: ReportContent, store: str, title: str = "melt report") -> str:
    plotly_js = _plotly_js()  # a missing plotly is one line naming the extra, before work
    figures = _Figures()
    across = [plots.ttft_vs_prompt(content), plots.decode_vs_depth(content)]
    across += [f for f in (plots.energy_per_token(content), plots.roofline_figure(content)) if f]
    across_placed = figures.add(across)
    backends_placed = figures.add(plots.backend_figures(content))
    pareto_placed = figures.add(plots.pareto_figures(content))
    per_run = []
    for v in content.runs:
        timelines = [plots.probe_timeline(v), plots.accelerator_timeline(v)]
        per_run.append(
            {
                "label": v.label,
                "environment": environment_rows(v),
                "plots": figures.add([plots.token_steps(v), *(t for t in timelines if t)]),
            }
        )
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    template = env.from_string(TEMPLATE.read_text(encoding="utf-8"))
    return template.render(
        title=title,
        store=store,
        generated=datetime.now(UTC).isoformat(timespec="seconds"),
        plotly_js=markupsafe.Markup(plotly_js),  # plotly's own bundle, not data
        runs=content.runs,
        summary=[_summary_row(v) for v in content.runs],
        rate_shown=RATE_SHOWN,
        cv_threshold=f"{100 * CV_FLAG_THRESHOLD:.0f}%",
        outliers=content.tables()["outliers"],
        qoe=_qoe_rows(content),
        qoe_checks=[q.check for q in content.runs[0].qoe] if content.runs else [],
        reading_wpm=f"{content.reading_wpm:g}",
        rooflines=[
            {"run": v.run_id, "says": v.roofline.says, "prefill": v.prefill_bound.says}
            for v in content.runs
        ],
        backend_columns=BACKEND_COLUMNS,
        backend_note=BACKEND_NOTE,
        backends=[backend_cells(row) for row in content.backends],
        backend_plots=backends_placed,
        across=across_placed,
        pareto=pareto_placed,
        per_run=per_run,
        figures=figures.document(),
    )
