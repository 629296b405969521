"""TVM / MLC relax VM profiler reports.

Each report is a line ``Report from function NAME:`` (other text may come first on the
line; NAME may carry a chunk suffix ``[i/N]``) followed by the JSON of
`tvm.runtime.profiling.Report`: ``calls`` (rows with ``Name``, ``Duration (us)``,
``Count``, ``Device``, ``Argument Shapes``…), ``device_metrics`` and ``configuration``.
TVM wraps each value in an object naming its kind (``{"microseconds": 12.5}``,
``{"count": 3}``, ``{"string": "cpu0"}``); plain values are read too. Every report in the
file becomes one graph of op timings.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from melt.metrics.ops import OpTiming
from melt.traces.importers.base import ImportedRun, ImportResult, Malformed, read_text
from melt.traces.importers.registry import register

REPORT = re.compile(r"Report from function (?P<name>\S+?)(?:\s*\[(?P<i>\d+)/(?P<n>\d+)\])?:")


def graph_names(settings: Mapping[str, Any]) -> dict[int, str]:
    """Graph index → ``FUNCTION [k]``, k counting that function's reports (``decode [0]``,
    ``decode [1]``, ``prefill [0]``), from the `tvm_reports` an import stored."""
    seen: dict[str, int] = {}
    names = {}
    for graph, report in enumerate(settings.get("tvm_reports") or ()):
        function = str(report.get("function", "?"))
        names[graph] = f"{function} [{seen.get(function, 0)}]"
        seen[function] = seen.get(function, 0) + 1
    return names


def _value(cell: Any) -> Any:
    if isinstance(cell, dict) and len(cell) == 1:
        return next(iter(cell.values()))
    return cell


@register
class TvmLog:
    name = "tvm-log"
    description = "TVM/MLC profiler reports"
    reads_folders = False

    def sniff(self, path: Path, head: str) -> bool:
        return REPORT.search(head) is not None

    def read(self, path: Path) -> ImportResult:
        text = read_text(path)
        decoder = json.JSONDecoder()
        run = ImportedRun(label=path.name, sources=[str(path)], framework="tvm")
        malformed: list[Malformed] = []
        reports: list[dict[str, Any]] = []
        for match in REPORT.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            start = text.find("{", match.end())
            try:
                report, _ = decoder.raw_decode(text, start)
                calls = report["calls"]
            except (ValueError, KeyError, TypeError) as exc:
                reason = f"report of {match['name']} is not profiler JSON ({exc})"
                malformed.append(Malformed(str(path), line, match.group(0), reason))
                continue
            graph = len(reports)
            for index, call in enumerate(calls):
                try:
                    run.ops.append(
                        OpTiming(
                            op=str(_value(call["Name"])),
                            wall_us=float(_value(call["Duration (us)"])),
                            calls=int(_value(call.get("Count", 1))),
                            graph_index=graph,
                            node_index=index,
                            shape=str(_value(call.get("Argument Shapes", ""))),
                        )
                    )
                except (KeyError, TypeError, ValueError) as exc:
                    reason = f"call {index} of {match['name']} unreadable ({exc})"
                    malformed.append(Malformed(str(path), line, match.group(0), reason))
            reports.append(
                {
                    "function": match["name"],
                    "chunk": f"{match['i']}/{match['n']}" if match["i"] else None,
                    "configuration": {
                        k: _value(v) for k, v in report.get("configuration", {}).items()
                    },
                    "device_metrics": {
                        dev: {k: _value(v) for k, v in metrics.items()}
                        for dev, metrics in report.get("device_metrics", {}).items()
                    },
                }
            )
        run.settings["tvm_reports"] = reports
        threads = [r["configuration"].get("Number of threads") for r in reports]
        if threads and threads[0] is not None:
            run.settings["threads"] = int(threads[0])
        found = [f"{len(reports)} profiler report(s) with {len(run.ops)} call row(s)"]
        return ImportResult(self.name, [run], malformed, found)
