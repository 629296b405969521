"""Where inference time goes: per-op and per-module shares of wall time (pure).

An `OpTiming` is one timed node of one graph (a llama.cpp/ggml node, or one TVM profiler
call row). Per-op tables sum over every node of the same op; per-module tables keep the
node's position in its graph too (node index × op), so "the MUL_MAT at node 3" is one row
summed over every graph that ran it; per-graph tables sum each graph. Shares are of the
summed wall time of the nodes given.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class OpTiming:
    """One timed node: its op, graph, position in the graph, calls and times (µs)."""

    op: str
    wall_us: float
    calls: int = 1
    graph_index: int = 0
    node_index: int | None = None
    cpu_us: float | None = None
    shape: str = ""


@dataclass(frozen=True, slots=True)
class OpShare:
    """Summed wall time of a group of nodes and its share of the total."""

    key: str
    wall_us: float
    share: float
    calls: int
    nodes: int
    cpu_us: float | None


def _shares(
    timings: Iterable[OpTiming], key: Callable[[OpTiming], Hashable], label: Callable[..., str]
) -> list[OpShare]:
    groups: dict[Hashable, list[OpTiming]] = defaultdict(list)
    for t in timings:
        groups[key(t)].append(t)
    total = sum(t.wall_us for group in groups.values() for t in group)
    rows = []
    for k, group in groups.items():
        wall = sum(t.wall_us for t in group)
        cpus = [t.cpu_us for t in group if t.cpu_us is not None]
        rows.append(
            OpShare(
                key=label(k),
                wall_us=wall,
                share=wall / total if total > 0 else 0.0,
                calls=sum(t.calls for t in group),
                nodes=len(group),
                cpu_us=sum(cpus) if cpus else None,
            )
        )
    return sorted(rows, key=lambda r: (-r.wall_us, r.key))


def op_shares(timings: Sequence[OpTiming]) -> list[OpShare]:
    """Per-op table, largest wall time first."""
    return _shares(timings, key=lambda t: t.op, label=str)


def module_shares(timings: Sequence[OpTiming]) -> list[OpShare]:
    """Per-module table: (node index, op) summed over graphs, largest wall time first."""
    return _shares(
        timings,
        key=lambda t: (t.node_index, t.op),
        label=lambda k: f"{k[1]}@{k[0]}" if k[0] is not None else k[1],
    )


def graph_shares(
    timings: Sequence[OpTiming], names: Mapping[int, str] | None = None
) -> list[OpShare]:
    """Per-graph table (one graph per evaluated batch or profiled function), largest first;
    a graph is labelled by `names` (e.g. ``decode [0]``) when given, else ``graph N``."""
    known = names or {}
    return _shares(timings, key=lambda t: t.graph_index, label=lambda k: known.get(k, f"graph {k}"))


def graph_totals_us(timings: Sequence[OpTiming]) -> dict[int, float]:
    """Summed wall time per graph (µs), in graph order."""
    totals: dict[int, float] = defaultdict(float)
    for t in timings:
        totals[t.graph_index] += t.wall_us
    return dict(sorted(totals.items()))
