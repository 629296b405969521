"""A llama.cpp log: timing blocks (one per prompt), per-op graph dumps and the model
loader's tensor list, in any mix (see `llamacpp_timings` and `ggml_graph`)."""

from __future__ import annotations

import re
from pathlib import Path

from melt.traces.importers import ggml_graph, llamacpp_timings
from melt.traces.importers.base import ImportedRun, ImportResult, Malformed, read_text
from melt.traces.importers.registry import register

HEADER_FACTS = {
    "model": re.compile(r"general\.name\s+(?:str\s+)?=\s*(.+?)\s*$"),
    "quant": re.compile(r"(?:file type|ftype)\s*=\s*(\S+)"),
    "ctx": re.compile(r"(?:llama_context|llama_new_context_with_model):\s+n_ctx\s*=\s*(\d+)"),
    "batch": re.compile(r"(?:llama_context|llama_new_context_with_model):\s+n_batch\s*=\s*(\d+)"),
}


def header_facts(lines: list[tuple[int, str]]) -> dict[str, str | int]:
    """Model name, quantization, context and batch size as the loader printed them."""
    facts: dict[str, str | int] = {}
    for _, line in lines:
        for key, pattern in HEADER_FACTS.items():
            if key not in facts and (match := pattern.search(line)):
                value = match.group(1)
                facts[key] = int(value) if value.isdigit() else value
    return facts


@register
class LlamaCppLog:
    name = "llamacpp-log"
    description = "llama.cpp timing blocks or ggml graph dumps"
    reads_folders = False

    def sniff(self, path: Path, head: str) -> bool:
        return (
            llamacpp_timings.PREFIX.search(head) is not None
            or (ggml_graph.MARKER in head and "n_nodes" in head)
            or "llama_model_loader: - tensor" in head
        )

    def read(self, path: Path) -> ImportResult:
        lines = list(enumerate(read_text(path).splitlines(), start=1))
        malformed: list[Malformed] = []
        blocks = llamacpp_timings.parse_blocks(lines, str(path), malformed)
        turns, reprints = llamacpp_timings.turns_from_blocks(blocks)
        graphs = ggml_graph.parse_graphs(lines, str(path), malformed)
        tensors = ggml_graph.parse_tensors(lines)
        run = ImportedRun(label=path.name, sources=[str(path)], framework="llama.cpp")
        facts = header_facts(lines)
        run.model = str(facts.pop("model", run.model))
        run.settings.update(facts)
        run.turns = turns
        run.ops = [node for graph in graphs for node in graph.nodes]
        if tensors:
            run.settings["tensors"] = tensors
        if graphs:
            run.settings["graph_leafs"] = [g.leafs for g in graphs]
            run.settings["graph_per_op_total_ms"] = [g.per_op_total_ms for g in graphs]
        run.notes += [f"line {n}: timing block printed on SIGINT, not a turn" for n in reprints]
        counts = (
            (turns, f"{len(turns)} timing block(s), one per turn"),
            (reprints, f"{len(reprints)} SIGINT timing block(s), not turns"),
            (graphs, f"{len(graphs)} graph dump(s) with {len(run.ops)} timed node(s)"),
            (tensors, f"{len(tensors)} tensor(s) in the model loader's list"),
        )
        found = [text for items, text in counts if items]
        return ImportResult(self.name, [run], malformed, found)
