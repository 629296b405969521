"""Monsoon power monitor captures as MELT saved them: CSV rows ``time_s,current_mA,
voltage_V,`` (no header, a trailing comma), seconds since the capture started, and the
start as epoch seconds in a ``.t_monsoon`` file next to the CSV (``.t_monsoon`` or
``<csv stem>.t_monsoon``)."""

from __future__ import annotations

import re
from pathlib import Path

from melt.errors import MeltError
from melt.traces.importers.base import (
    ImportedRun,
    ImportResult,
    Malformed,
    PowerTrace,
    read_text,
)
from melt.traces.importers.registry import register

NUMBER = r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
ROW = re.compile(rf"(?P<t>{NUMBER}),(?P<i>{NUMBER}),(?P<v>{NUMBER}),?")


def start_file(csv: Path) -> Path | None:
    for candidate in (csv.with_suffix(".t_monsoon"), csv.parent / ".t_monsoon"):
        if candidate.is_file():
            return candidate
    return None


@register
class Monsoon:
    name = "monsoon"
    description = "Monsoon time_s,current_mA,voltage_V rows"
    reads_folders = False

    def sniff(self, path: Path, head: str) -> bool:
        lines = [line.strip() for line in head.splitlines()[:5] if line.strip()]
        return bool(lines) and all(ROW.fullmatch(line) for line in lines)

    def read(self, path: Path) -> ImportResult:
        t, current, voltage = [], [], []
        malformed: list[Malformed] = []
        for number, line in enumerate(read_text(path).splitlines(), start=1):
            if not line.strip():
                continue
            match = ROW.fullmatch(line.strip())
            if match is None:
                malformed.append(
                    Malformed(str(path), number, line, "not 'time_s,current_mA,voltage_V,'")
                )
                continue
            t.append(float(match["t"]))
            current.append(float(match["i"]))
            voltage.append(float(match["v"]))
        found = [f"{len(t)} Monsoon sample(s)"]
        epoch = 0.0
        start = start_file(path)
        if start is not None:
            try:
                epoch = float(read_text(start).strip())
            except ValueError:
                raise MeltError(
                    f"'{start}' should hold the capture's start in epoch seconds; fix or remove it"
                ) from None
            found.append(f"capture start {epoch:.3f} (epoch s) from {start.name}")
        else:
            found.append("no .t_monsoon file: times stay relative to the capture start")
        run = ImportedRun(label=path.name, sources=[str(path)], device="monsoon")
        run.power.append(
            PowerTrace(
                source=f"Monsoon {path.name}",
                rail="main",
                t_s=tuple(epoch + x for x in t),
                power_mw=tuple(i * v for i, v in zip(current, voltage, strict=True)),
                current_ma=tuple(current),
                voltage_v=tuple(voltage),
            )
        )
        run.settings["monsoon_epoch_start_s"] = epoch if start is not None else None
        return ImportResult(self.name, [run], malformed, found)
