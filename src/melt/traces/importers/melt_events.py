"""MELT event files: ``<event>.start <ns>`` / ``<event>.end <ns>`` lines (space separated,
in any order) or CSV ``event,timestamp_ns`` rows with the same event names. Starts pair
with ends of the same name in time order; an end before its start is said and dropped."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from melt.traces.importers.base import (
    ImportedRun,
    ImportResult,
    Interval,
    Malformed,
    read_text,
)
from melt.traces.importers.registry import register

EVENT = re.compile(r"(?P<name>[^\s,]+)\.(?P<edge>start|end)\s*[\s,]\s*(?P<ns>\d+)")
HEADER = "event,timestamp_ns"


@register
class MeltEvents:
    name = "melt-events"
    description = "MELT event start/end lines"
    reads_folders = False

    def sniff(self, path: Path, head: str) -> bool:
        lines = [line for line in head.splitlines()[:20] if line.strip()]
        return any(EVENT.fullmatch(line.strip()) for line in lines)

    def read(self, path: Path) -> ImportResult:
        edges: dict[str, dict[str, list[int]]] = defaultdict(lambda: {"start": [], "end": []})
        malformed: list[Malformed] = []
        for number, line in enumerate(read_text(path).splitlines(), start=1):
            text = line.strip()
            if not text or text.replace(" ", "") == HEADER:
                continue
            match = EVENT.fullmatch(text)
            if match is None:
                malformed.append(Malformed(str(path), number, line, "not '<event>.start|end ns'"))
                continue
            edges[match["name"]][match["edge"]].append(int(match["ns"]))
        run = ImportedRun(label=path.name, sources=[str(path)])
        for name, ends in edges.items():
            starts, stops = sorted(ends["start"]), sorted(ends["end"])
            for start, end in zip(starts, stops, strict=False):
                if end < start:
                    run.notes.append(f"event '{name}': end {end} before start {start}, dropped")
                    continue
                run.intervals.append(Interval(name, start, end))
            if len(starts) != len(stops):
                run.notes.append(
                    f"event '{name}': {len(starts)} start(s) and {len(stops)} end(s); "
                    f"{abs(len(starts) - len(stops))} left unpaired"
                )
        run.intervals.sort(key=lambda i: (i.start_ns, i.name))
        found = [f"{len(run.intervals)} event interval(s) of {len(edges)} event name(s)"]
        return ImportResult(self.name, [run], malformed, found)
