"""One self-contained HTML report: plotly's offline bundle embedded once (no CDN, works
without a network), every figure a div drawn by it, tables as plain HTML."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import markupsafe

from melt.errors import MeltError
from melt.extras import install_hint
from melt.metrics.stats import CV_FLAG_THRESHOLD, Aggregate
from melt.report import plots
from melt.report.content import RATE_SHOWN, ReportContent, RunView, environment_rows
from melt.report.units import fmt, fmt_bytes

TEMPLATE = Path(__file__).with_name("templates") / "report.html.j2"
PLOT_CONFIG = {"displaylogo": False, "responsive": True}
MARKS = {True: ("✔", "ok"), False: ("✘", "bad"), None: ("–", "na")}


def _median_ci(agg: Aggregate, digits: int) -> str:
    if not agg.n:
        return "–"
    return f"{fmt(agg.median, digits)} [{fmt(agg.ci_low, digits)}–{fmt(agg.ci_high, digits)}]"


def _rate_cell(v: RunView, name: str, with_cv: bool) -> str:
    rate = v.rates[name]
    text = f"{_median_ci(rate.per_turn, 1)}; {fmt(rate.pooled, 1)}"
    if with_cv and not math.isnan(rate.cv):
        text += f"; CV {100 * rate.cv:.1f}%"
        if v.flagged_cv:
            text += ' <span class="flag" title="CV above the threshold">⚑</span>'
    return text


def _energy_cell(v: RunView) -> str:
    if v.energy is None or v.energy.j_per_generated_token is None:
        return '<span class="na">not measured</span>'
    value = f"{v.energy.j_per_generated_token:.4f} J"
    if v.energy.provenance == "estimated":
        return f'<span class="estimated" title="{v.energy.source}">{value}</span>'
    return f'<span title="{v.energy.source}">{value}</span>'


def _summary_row(v: RunView) -> dict[str, Any]:
    r = v.run
    return {
        "run": f"{r['id']} (exp {r['experiment_id']}, {r['status']})",
        "model": f"{r['model_name']} {r['model_quant']} · {str(r['model_sha256'])[:12]}",
        "size": fmt_bytes(r["model_size_bytes"]),
        "framework": f"{r['framework']} {r['framework_version']} on {r['device']}",
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


def _script_json(value: Any) -> str:
    """JSON that is safe inside a <script> element."""
    return json.dumps(value, separators=(",", ":")).replace("</", "<\\/")


class _Divs:
    """Numbered plot divs, each drawn by its own Plotly.newPlot call."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, fig: plots.Figure) -> str:
        self.count += 1
        div = f"plot-{self.count}"
        args = ",".join(_script_json(x) for x in (fig["data"], fig["layout"], PLOT_CONFIG))
        return f'<div id="{div}"></div><script>Plotly.newPlot("{div}",{args});</script>'


def render_html(content: ReportContent, store: str, title: str = "melt report") -> str:
    plotly_js = _plotly_js()  # a missing plotly is one line naming the extra, before work
    _div = _Divs()
    across = [plots.ttft_vs_prompt(content), plots.decode_vs_depth(content)]
    across += [f for f in (plots.energy_per_token(content), plots.roofline_figure(content)) if f]
    per_run = []
    for v in content.runs:
        figures = [plots.token_steps(v)]
        timeline = plots.probe_timeline(v)
        if timeline is not None:
            figures.append(timeline)
        per_run.append(
            {
                "label": v.label,
                "environment": environment_rows(v),
                "plots": [_div(f) for f in figures],
            }
        )
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    template = env.from_string(TEMPLATE.read_text(encoding="utf-8"))
    return template.render(
        title=title,
        store=store,
        generated=datetime.now(UTC).isoformat(timespec="seconds"),
        plotly_js=markupsafe.Markup(plotly_js),
        runs=content.runs,
        summary=[_summary_row(v) for v in content.runs],
        rate_shown=RATE_SHOWN,
        cv_threshold=f"{100 * CV_FLAG_THRESHOLD:.0f}%",
        outliers=content.tables()["outliers"],
        qoe=_qoe_rows(content),
        qoe_checks=[q.check for q in content.runs[0].qoe] if content.runs else [],
        reading_wpm=f"{content.reading_wpm:g}",
        rooflines=[{"run": v.run_id, "says": v.roofline.says} for v in content.runs],
        across=[_div(f) for f in across],
        pareto=[_div(f) for f in plots.pareto_figures(content)],
        per_run=per_run,
    )
