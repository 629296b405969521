"""`melt compare` output: a rich table for people, one JSON document for programs."""

from __future__ import annotations

import math
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from melt.metrics.compare import Better, Comparison, MetricComparison, RowComparison

ARROWS = {Better.HIGHER: "↑", Better.LOWER: "↓"}


def _num(value: float, digits: int) -> str:
    return "–" if math.isnan(value) else f"{value:.{digits}f}"


def _digits(unit: str) -> int:
    return 4 if unit == "s" else 1


def _key_text(row: RowComparison) -> str:
    return " · ".join(_short(v) for v in row.key.values()) or "all runs"


def _short(value: str) -> str:
    return value[:12] if len(value) == 64 else value


def comparison_table(comparison: Comparison) -> Table:
    threshold = comparison.threshold_pct
    title = (
        "candidate − baseline of per-turn medians (↑ higher is better, ↓ lower); 95% CI by "
        "bootstrap; p by Mann-Whitney U"
    )
    if threshold is not None:
        title += f"; regression = worse by > {threshold:g}% with the CI excluding 0"
    table = Table(title=title, title_justify="left")
    for column in (
        "row",
        "metric",
        "n base/cand",
        "baseline",
        "candidate",
        "diff",
        "change",
        "95% CI (diff)",
        "p",
        "verdict",
    ):
        table.add_column(
            column, justify="left" if column in ("row", "metric", "verdict") else "right"
        )
    for row in comparison.rows:
        label = _key_text(row)
        for m in row.metrics:
            d, digits = m.difference, _digits(m.metric.unit)
            verdict = m.verdict
            style = {"REGRESSION": "bold red", "worse": "yellow", "better": "green"}.get(verdict)
            table.add_row(
                label,
                f"{m.metric.label} {m.metric.unit} {ARROWS[m.metric.better]}",
                f"{m.n_baseline}/{m.n_candidate}",
                _num(d.baseline_median, digits),
                _num(d.candidate_median, digits),
                _num(d.diff, digits),
                "–" if math.isnan(d.pct_change) else f"{d.pct_change:+.1f}%",
                f"{_num(d.ci_low, digits)} … {_num(d.ci_high, digits)}",
                _num(m.test.p_value, 3),
                Text(verdict, style=style or ""),
            )
            label = ""
        table.add_section()
    return table


def comparison_parts(comparison: Comparison) -> Group:
    parts: list[Any] = []
    if comparison.differences:
        lines = ["baseline and candidate differ in (this is what is compared):"]
        lines += [
            f"  {name}: {_short(b)} → {_short(c)}"
            for name, (b, c) in comparison.differences.items()
        ]
        parts.append(Text("\n".join(lines)))
    else:
        parts.append(Text("baseline and candidate have the same key properties"))
    if comparison.pairing:
        parts.append(Text(f"rows paired on: {' · '.join(comparison.pairing)}"))
    parts.append(comparison_table(comparison))
    for u in comparison.unmatched:
        key = ", ".join(f"{k} {_short(v)}" for k, v in u.key.items())
        runs = ", ".join(map(str, u.runs))
        parts.append(
            Text(f"unmatched, only in the {u.side}: {key} (runs {runs}); not compared: {u.why}")
        )
    parts += [Text(f"not comparable: {why}", style="yellow") for why in comparison.unusable]
    if comparison.threshold_pct is not None and not comparison.unusable:
        verdict = "REGRESSION" if comparison.regressed else "no regression"
        parts.append(Text(f"{verdict} beyond {comparison.threshold_pct:g}%"))
    return Group(*parts)


def _clean(value: float) -> float | None:
    return None if math.isnan(value) else value


def _metric_document(m: MetricComparison) -> dict[str, Any]:
    d = m.difference
    return {
        "metric": m.metric.name,
        "unit": m.metric.unit,
        "better": m.metric.better.value,
        "n_baseline": m.n_baseline,
        "n_candidate": m.n_candidate,
        "baseline_median": _clean(d.baseline_median),
        "candidate_median": _clean(d.candidate_median),
        "diff": _clean(d.diff),
        "pct_change": _clean(d.pct_change),
        "ci95_diff": [_clean(d.ci_low), _clean(d.ci_high)],
        "ci_method": "percentile bootstrap of the difference of medians, 2000 resamples, seed 0",
        "mann_whitney_u": _clean(m.test.u),
        "p_value": _clean(m.test.p_value),
        "p_method": m.test.method,
        "worse_pct": _clean(m.worse_pct),
        "regression": m.regression,
        "verdict": m.verdict,
    }


def comparison_document(comparison: Comparison) -> dict[str, Any]:
    return {
        "threshold_pct": comparison.threshold_pct,
        "regressed": comparison.regressed,
        "not_comparable": list(comparison.unusable),
        "differences": {
            k: {"baseline": b, "candidate": c} for k, (b, c) in comparison.differences.items()
        },
        "paired_on": list(comparison.pairing),
        "rows": [
            {
                "key": dict(row.key),
                "baseline_runs": list(row.baseline_runs),
                "candidate_runs": list(row.candidate_runs),
                "metrics": [_metric_document(m) for m in row.metrics],
            }
            for row in comparison.rows
        ],
        "unmatched": [
            {"side": u.side, "key": dict(u.key), "runs": list(u.runs), "why": u.why}
            for u in comparison.unmatched
        ],
    }
