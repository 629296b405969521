"""A many-run report in the terminal: the summary table and the QoE verdicts."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table

from melt.report.content import RATE_SHOWN, ReportContent
from melt.report.units import fmt


def report_table(content: ReportContent) -> Group:
    table = Table(
        title=f"rates: {RATE_SHOWN} [95% CI] and total tokens / total time", title_justify="left"
    )
    for column in (
        "run",
        "model",
        "threads",
        "turns",
        "TTFT s",
        "decode tok/s",
        "total/time",
        "CV",
        "prefill bound",
        "roofline",
    ):
        table.add_column(column, justify="left" if column in ("run", "model") else "right")
    for v in content.runs:
        decode = v.rates["decode_tok_per_s"]
        agg, ttft = decode.per_turn, v.latency["ttft_s"]
        table.add_row(
            str(v.run_id),
            f"{v.run['model_name']} {v.run['model_quant']}",
            fmt(v.run["threads"]),
            str(len(v.turns)),
            f"{fmt(ttft.median, 3)} [{fmt(ttft.ci_low, 3)}–{fmt(ttft.ci_high, 3)}]",
            f"{fmt(agg.median, 1)} [{fmt(agg.ci_low, 1)}–{fmt(agg.ci_high, 1)}]",
            fmt(decode.pooled, 1),
            ("⚑ " if v.flagged_cv else "") + fmt(100 * decode.cv, 1) + "%",
            "–"
            if v.prefill_bound.result is None
            else f"{100 * v.prefill_bound.result.fraction_of_limit:.0f}%",
            "–"
            if v.roofline.result is None
            else f"{100 * v.roofline.result.fraction_of_limit:.0f}%",
        )
    bounds = Table(title="what bounds each run (roofline)", title_justify="left")
    for column in ("run", "decode: memory bandwidth", "prefill: compute"):
        bounds.add_column(column)
    for v in content.runs:
        bounds.add_row(str(v.run_id), v.roofline.says, v.prefill_bound.says)
    verdicts = Table(title="quality of experience", title_justify="left")
    for column in ("run", "check", "verdict", "how"):
        verdicts.add_column(column)
    for v in content.runs:
        for q in v.qoe:
            verdicts.add_row(str(v.run_id), q.check, q.verdict, q.detail)
    return Group(table, bounds, verdicts)
