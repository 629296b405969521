"""ggml's per-op graph dumps (llama.cpp built with GGML_PERF) and the model loader's
tensor list.

A dump is a ``=== GRAPH ===`` marker (generated text may be glued in front of it on the
same line), ``n_nodes = N`` and N timed node lines such as
``- 3: [ 4096, 2, 1] MUL_MAT ( 1) cpu = 18.562 / 18.562 ms, wall = 5.255 / 5.255 ms``
(shape, op, runs, cpu total / per run, wall total / per run), then ``n_leafs = M`` and M
leaf lines that carry no timing, then a ``perf_total_per_op_us[OP] = x ms`` block between
lines of ``=`` (ggml prints milliseconds despite the name).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from melt.metrics.ops import OpTiming
from melt.traces.importers.base import Malformed

MARKER = "=== GRAPH ==="
N_NODES = re.compile(r"n_nodes\s*=\s*(\d+)")
N_LEAFS = re.compile(r"n_leafs\s*=\s*(\d+)")
NODE = re.compile(
    r"\s*-\s*(?P<i>\d+):\s*\[(?P<shape>[\d,\s]+)\]\s+(?P<op>\S+)\s+\(\s*(?P<runs>\d+)\)\s+"
    r"cpu\s*=\s*(?P<cpu>[\d.]+)\s*/\s*[\d.]+\s*ms,\s*wall\s*=\s*(?P<wall>[\d.]+)\s*/\s*[\d.]+\s*ms"
)
LEAF = re.compile(r"\s*-\s*\d+:\s*\[[\d,\s]+\]\s+\S+.*")
PER_OP = re.compile(r"perf_total_per_op_us\[\s*(?P<op>\S+)\s*\]\s*=\s*(?P<ms>[\d.]+)\s*ms")
TENSOR = re.compile(
    r"llama_model_loader: - tensor\s+(?P<i>\d+):\s+(?P<name>\S+)\s+(?P<type>\S+)\s+"
    r"\[(?P<shape>[\d,\s]+)\]"
)


@dataclass
class GraphDump:
    index: int
    nodes: list[OpTiming] = field(default_factory=list)
    leafs: int = 0
    per_op_total_ms: dict[str, float] = field(default_factory=dict)


def _shape(text: str) -> str:
    return "x".join(part.strip() for part in text.split(",") if part.strip())


def parse_graphs(
    lines: list[tuple[int, str]], path: str, malformed: list[Malformed]
) -> list[GraphDump]:
    graphs: list[GraphDump] = []
    it: Iterator[tuple[int, str]] = iter(lines)
    armed = False
    for number, line in it:
        if MARKER in line:
            armed = True
            continue
        n_nodes = N_NODES.search(line) if armed else None
        if n_nodes:
            armed = False
            graph = GraphDump(len(graphs))
            graphs.append(graph)
            for _ in range(int(n_nodes.group(1))):
                node_number, node_line = next(it, (number, ""))
                match = NODE.match(node_line)
                if match is None:
                    malformed.append(Malformed(path, node_number, node_line, "unreadable node"))
                    continue
                graph.nodes.append(
                    OpTiming(
                        op=match["op"],
                        wall_us=float(match["wall"]) * 1e3,
                        cpu_us=float(match["cpu"]) * 1e3,
                        calls=int(match["runs"]),
                        graph_index=graph.index,
                        node_index=int(match["i"]),
                        shape=_shape(match["shape"]),
                    )
                )
            continue
        n_leafs = N_LEAFS.search(line)
        if n_leafs and graphs:
            for _ in range(int(n_leafs.group(1))):
                leaf_number, leaf_line = next(it, (number, ""))
                if LEAF.fullmatch(leaf_line.rstrip("\n")) is None:
                    malformed.append(Malformed(path, leaf_number, leaf_line, "unreadable leaf"))
                else:
                    graphs[-1].leafs += 1
            continue
        per_op = PER_OP.search(line)
        if per_op and graphs:
            graphs[-1].per_op_total_ms[per_op["op"]] = float(per_op["ms"])
    return graphs


def parse_tensors(lines: list[tuple[int, str]]) -> list[dict[str, str]]:
    return [
        {"name": m["name"], "type": m["type"], "shape": _shape(m["shape"])}
        for _, line in lines
        if (m := TENSOR.search(line))
    ]
