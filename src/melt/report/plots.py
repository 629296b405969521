"""Plotly figures of a report, one function per figure, from a `ReportContent`.

Figures are plain plotly.js data and layout dicts: building them through plotly's graph
objects validates every property and costs a second or more per figure, too slow for a
report of a hundred runs. A figure's title is not drawn by plotly: the page shows it as an
HTML caption above the plot, where plotly's mode bar cannot overdraw it. Plotly reads
HTML-like tags in every text it draws (trace names, category labels, text), so each
string from the store goes in through `label`, which escapes it and plotly shows it as
written. Only the offline bundle of plotly.js comes from the plotly package (`html.py`).
Long sample series are thinned to `MAX_POINTS` per series (every k-th point, the last
kept) so a report of many runs stays small; the thinning is said in the figure's title.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from melt.metrics.roofline import Roofline
from melt.report.backends import ACCELERATOR_PROBES
from melt.report.content import ReportContent, RunView
from melt.report.units import BYTE_UNITS


@dataclass(frozen=True, slots=True)
class Figure:
    """A plotly.js figure and the title the page shows above it."""

    title: str
    data: list[dict[str, Any]]
    layout: dict[str, Any]


def label(text: object) -> str:
    """A string from the store as plotly text: its entities decoded, no tag interpreted."""
    return html.escape(str(text), quote=False)


MAX_POINTS = 300  # a series at 10 Hz over 30 s; a report of 100 runs stays under 10 MB
NS = 1e9
PREFILL_COLOUR = "rgba(255, 140, 0, 0.30)"
DECODE_COLOUR = "rgba(70, 130, 180, 0.22)"
ESTIMATED_PATTERN = "/"

# probe timeline rows: which units go on which panel, in order
PANELS = (
    ("CPU", ("%",)),
    ("frequency", ("kHz", "MHz", "Hz")),
    ("memory", ("B", "bytes", "KiB", "MiB")),
    ("power", ("W", "mW", "A", "mA", "V")),
    ("temperature", ("°C", "C", "degC")),
)


def _figure(
    data: list[dict[str, Any]], title: str, x: str, y: str, height: int = 360, **layout: Any
) -> Figure:
    return Figure(
        title,
        data,
        {
            "xaxis": {"title": {"text": x}, "automargin": True},
            "yaxis": {"title": {"text": y}, "automargin": True},
            "height": height,
            # the top margin holds plotly's mode bar, clear of the plotting area
            "margin": {"l": 60, "r": 20, "t": 36, "b": 50},
            "template": TEMPLATE,
            "legend": {"font": {"size": 10}},
            **layout,
        },
    )


TEMPLATE = {
    "layout": {
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "xaxis": {"gridcolor": "#ebf0f8", "zerolinecolor": "#ebf0f8"},
        "yaxis": {"gridcolor": "#ebf0f8", "zerolinecolor": "#ebf0f8"},
        "colorway": [
            "#636efa",
            "#EF553B",
            "#00cc96",
            "#ab63fa",
            "#FFA15A",
            "#19d3f3",
            "#FF6692",
            "#B6E880",
            "#FF97FF",
            "#FECB52",
        ],
    }
}


def token_steps(view: RunView) -> Figure:
    """Generated-token count against time since submit, one step line per turn."""
    data = []
    for t in view.turns:
        stamps = t.get("token_ns") or []
        if not stamps or t["submit_ns"] is None:
            continue
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": [0.0] + [(ns - t["submit_ns"]) / NS for ns in stamps],
                "y": list(range(len(stamps) + 1)),
                "line": {"shape": "hv", "width": 1.5},
                "name": f"conv {t['conversation_index']} turn {t['turn_index']}",
            }
        )
    return _figure(
        data, f"{view.label}: token timestamps", "seconds since the prompt was submitted", "tokens"
    )


def ttft_vs_prompt(content: ReportContent) -> Figure:
    data = [
        {
            "type": "scatter",
            "mode": "markers",
            "x": [t["prompt_tokens_evaluated"] for t in v.turns],
            "y": [t["ttft_s"] for t in v.turns],
            "name": label(v.label),
        }
        for v in content.runs
    ]
    return _figure(data, "TTFT vs prompt tokens evaluated", "prompt tokens evaluated", "TTFT s")


def _colour(index: int) -> str:
    colours = TEMPLATE["layout"]["colorway"]
    return colours[index % len(colours)]


def decode_vs_depth(content: ReportContent) -> Figure:
    """One line per conversation (its turns in order), a run's conversations in one colour
    under one legend entry: the last turn of one conversation is never joined to the first
    of the next, whose context starts again."""
    data = []
    for i, v in enumerate(content.runs):
        turns = sorted(v.turns, key=lambda t: (t["conversation_index"], t["turn_index"]))
        for k, (conversation, group) in enumerate(
            groupby(turns, key=lambda t: t["conversation_index"])
        ):
            conv = list(group)
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines+markers",
                    "x": [t["prompt_tokens"] for t in conv],
                    "y": [t["decode_tok_per_s"] for t in conv],
                    "name": label(v.label),
                    "legendgroup": f"run-{v.run_id}",
                    "showlegend": k == 0,
                    "line": {"color": _colour(i)},
                    "marker": {"color": _colour(i)},
                    "hovertext": f"conversation {conversation}",
                }
            )
    return _figure(
        data,
        "decode rate per turn as the conversation's context grows (a line per conversation)",
        "context depth at decode start (prompt tokens incl. reused)",
        "decode tok/s",
    )


def _thin(points: Sequence[tuple[int, float]]) -> Sequence[tuple[int, float]]:
    if len(points) <= MAX_POINTS:
        return points
    step = -(-len(points) // MAX_POINTS)
    kept = list(points[::step])
    if kept[-1] != points[-1]:
        kept.append(points[-1])
    return kept


def _panel_of(unit: str) -> str | None:
    for name, units in PANELS:
        if unit in units:
            return name
    return None


PANEL_GAP = 0.06
# Probe timelines are drawn, not read off: 1 ms and 5 significant digits are finer than
# a pixel and keep 100 runs' timelines a few MB (the stored samples stay exact).
TIME_DECIMALS = 3
VALUE_DIGITS = 5
MIB = 2**20
PANEL_UNITS = {
    "CPU": "CPU %",
    "frequency": "frequency",
    "memory": "memory MiB",
    "power": "power",
    "temperature": "°C",
}
# The accelerator probes' samples get a figure of their own, the CPU's stay in the CPU
# figure; the "%" panel is the accelerator's load.
ACCELERATOR_PANEL_UNITS = {**PANEL_UNITS, "CPU": "load %"}


@dataclass(frozen=True, slots=True)
class TimelineKind:
    """Which probes a timeline figure shows, and what its panels and caption are called."""

    accelerator: bool
    panel_units: dict[str, str]
    caption: str

    def shows(self, probe: str) -> bool:
        return (probe in ACCELERATOR_PROBES) == self.accelerator


DEVICE_TIMELINE = TimelineKind(False, PANEL_UNITS, "probes")
ACCELERATOR_TIMELINE = TimelineKind(
    True, ACCELERATOR_PANEL_UNITS, "accelerator probes (load, frequency, memory)"
)


def _phase_shapes(view: RunView, origin: int) -> list[dict[str, Any]]:
    """Each turn's prefill (orange) and decode (blue) window, across all panels."""
    shapes = []
    for t in view.turns:
        if t["submit_ns"] is None or t["first_token_ns"] is None:
            continue
        windows = [(t["submit_ns"], t["first_token_ns"], PREFILL_COLOUR)]
        if t["last_token_ns"] is not None:
            windows.append((t["first_token_ns"], t["last_token_ns"], DECODE_COLOUR))
        shapes += [
            {
                "type": "rect",
                "xref": "x",
                "yref": "paper",
                "x0": (start - origin) / NS,
                "x1": (end - origin) / NS,
                "y0": 0,
                "y1": 1,
                "fillcolor": colour,
                "line": {"width": 0},
                "layer": "below",
            }
            for start, end, colour in windows
        ]
    return shapes


def timeline(view: RunView, kind: TimelineKind) -> Figure | None:
    """One panel per kind of signal of the probes `kind` shows (stacked, shared time axis),
    prefill (orange) and decode (blue) windows shaded across all panels; None without such
    samples. Time starts at the run's first sample of any probe, so the CPU's and the
    accelerator's figures share their time axis."""
    if not view.series:
        return None
    origin = min(s.points[0][0] for s in view.series)
    shown = [s for s in view.series if kind.shows(s.probe)]
    series = {(s.probe, s.channel): s.points for s in shown}
    units = {(s.probe, s.channel): (s.unit, str(s.provenance)) for s in shown}
    panels = [name for name, _ in PANELS if any(_panel_of(u) == name for u, _ in units.values())]
    if not panels:
        return None
    n = len(panels)
    span = (1 - PANEL_GAP * (n - 1)) / n
    layout: dict[str, Any] = {}
    for i, panel in enumerate(panels):
        top = 1 - i * (span + PANEL_GAP)
        axis = "yaxis" if i == 0 else f"yaxis{i + 1}"
        layout[axis] = {
            "domain": [top - span, top],
            "title": {"text": kind.panel_units.get(panel, panel)},
            "anchor": "x",
            "gridcolor": "#ebf0f8",
            # a process's RSS and the system's free memory differ by orders of magnitude
            **({"type": "log"} if panel == "memory" else {}),
        }
    # the shared time axis sits under the lowest panel
    layout["xaxis"] = {
        "anchor": f"y{n}" if n > 1 else "y",
        "title": {"text": "seconds since the first sample"},
    }
    data = []
    thinned = False
    for key, points in sorted(series.items()):
        unit, provenance = units[key]
        panel = _panel_of(unit)
        if panel is None:
            continue
        kept = _thin(points)
        thinned |= len(kept) < len(points)
        scale = 1 / MIB if unit in BYTE_UNITS else 1.0
        estimated = provenance == "estimated"
        index = panels.index(panel)
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": [round((t - origin) / NS, TIME_DECIMALS) for t, _ in kept],
                "y": [float(f"{value * scale:.{VALUE_DIGITS}g}") for _, value in kept],
                "yaxis": "y" if index == 0 else f"y{index + 1}",
                "name": label(
                    f"{key[0]}/{key[1]} ({'MiB' if scale != 1 else unit})"
                    + (" ESTIMATED" if estimated else "")
                ),
                "line": {"dash": "dot"} if estimated else {},
            }
        )
    title = f"{view.label}: {kind.caption} (orange prefill, blue decode)"
    if thinned:
        title += f"; thinned to ≤{MAX_POINTS} points a series"
    figure = _figure(data, title, "", "", height=150 * n + 90)
    figure.layout.update(layout | {"shapes": _phase_shapes(view, origin)})
    return figure


def probe_timeline(view: RunView) -> Figure | None:
    """The device's own probes (CPU, memory, power, temperature) over the run."""
    return timeline(view, DEVICE_TIMELINE)


def accelerator_timeline(view: RunView) -> Figure | None:
    """The accelerator probes' load, frequency, memory (and power, temperature)."""
    return timeline(view, ACCELERATOR_TIMELINE)


def energy_per_token(content: ReportContent) -> Figure | None:
    with_energy = [v for v in content.runs if v.energy is not None]
    if not with_energy:
        return None
    data = []
    for phase, attr in (
        ("prefill J/prompt token", "j_per_prompt_token"),
        ("decode J/generated token", "j_per_generated_token"),
    ):
        for estimated in (False, True):
            views = [v for v in with_energy if (v.energy.provenance == "estimated") == estimated]
            if not views:
                continue
            data.append(
                {
                    "type": "bar",
                    "x": [label(v.label) for v in views],
                    "y": [getattr(v.energy, attr) for v in views],
                    "name": ("ESTIMATED " if estimated else "measured ") + phase,
                    "marker": {"pattern": {"shape": ESTIMATED_PATTERN}} if estimated else {},
                    "opacity": 0.6 if estimated else 1.0,
                }
            )
    return _figure(
        data, "energy per token by phase (hatched: ESTIMATED)", "", "J per token", barmode="group"
    )


PARETO_X = (
    ("accuracy", "accuracy"),
    ("size_bytes", "model size (bytes)"),
    ("j_per_token", "J per generated token"),
)


def pareto_figures(content: ReportContent) -> list[Figure]:
    """Decode tok/s against each other axis the variants all have; optimal ones starred."""
    rows = content.pareto
    figures = []
    for axis, axis_title in PARETO_X:
        if not rows or any(r[axis] is None for r in rows):
            continue
        data = []
        for optimal in (True, False):
            chosen = [r for r in rows if r["pareto_optimal"] is optimal]
            if chosen:
                data.append(
                    {
                        "type": "scatter",
                        "mode": "markers+text",
                        "x": [r[axis] for r in chosen],
                        "y": [r["decode_tok_per_s"] for r in chosen],
                        "text": [label(r["variant"]) for r in chosen],
                        "textposition": "top center",
                        "marker": {
                            "size": 14 if optimal else 9,
                            "symbol": "star" if optimal else "circle",
                        },
                        "name": "Pareto-optimal" if optimal else "dominated",
                    }
                )
        metric = rows[0]["accuracy_metric"] if axis == "accuracy" else None
        title = f"decode tok/s vs {axis_title}" + (f" ({metric})" if metric else "")
        title += f"; optimal over {rows[0]['pareto_axes']}"
        figures.append(_figure(data, title, axis_title, "decode tok/s (median of turns)"))
    return figures


def _bound_text(result: Roofline) -> str:
    return f"{result.decode_tok_per_s:.1f} / {result.bound_tok_per_s:.0f} tok/s"


def roofline_figure(content: ReportContent) -> Figure | None:
    known = [(v, v.roofline.result) for v in content.runs if v.roofline.result is not None]
    if not known:
        return None
    data = [
        {
            "type": "bar",
            "x": [label(v.label) for v, _ in known],
            "y": [100 * r.fraction_of_limit for _, r in known],
            "text": [_bound_text(r) for _, r in known],
            "textposition": "auto",
            "name": "decode",
        }
    ]
    return _figure(data, "decode as % of the memory-bandwidth limit", "", "% of limit")


def _backend_x(content: ReportContent) -> list[str]:
    return [
        label(f"{row.model} · {row.backend} · gpu layers {row.gpu_layers}")
        for row in content.backends
    ]


def backend_figures(content: ReportContent) -> list[Figure]:
    """The runs side by side per compute backend (the CPU-vs-GPU figure): prefill and decode
    rates, and decode energy per token where every run of a row measured it."""
    rows = content.backends
    if not rows:
        return []
    x = _backend_x(content)
    rates = [
        {
            "type": "bar",
            "x": x,
            "y": [getattr(row, attr).median for row in rows],
            "name": name,
        }
        for name, attr in (
            ("prefill tok/s", "prefill_tok_per_s"),
            ("decode tok/s", "decode_tok_per_s"),
        )
    ]
    figures = [
        _figure(
            rates,
            "prefill and decode per compute backend (medians of turns)",
            "",
            "tok/s",
            barmode="group",
        )
    ]
    measured = [(xi, row) for xi, row in zip(x, rows, strict=True) if row.j_per_token is not None]
    if measured:
        figures.append(
            _figure(
                [
                    {
                        "type": "bar",
                        "x": [xi for xi, _ in measured],
                        "y": [row.j_per_token for _, row in measured],
                        "text": ["ESTIMATED" if r.energy_estimated else "" for _, r in measured],
                        "name": "decode J/token",
                    }
                ],
                "decode energy per generated token per compute backend (rows without a "
                "measurement left out)",
                "",
                "J per token",
            )
        )
    return figures
