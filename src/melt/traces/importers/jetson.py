"""Jetson monitor logs as MELT wrote them: ``<time_ns> <key>: <value> <unit>`` lines with
``current_<RAIL>``, ``voltage_<RAIL>`` and ``power_<RAIL>`` keys (INA3221 rails) and
thermal zones in mC. A rail's power is current × voltage when the log has both at a
time, else its ``power_`` reading."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from melt.traces.importers.base import (
    ImportedRun,
    ImportResult,
    Malformed,
    PowerTrace,
    read_text,
)
from melt.traces.importers.registry import register

LINE = re.compile(r"(?P<ns>\d+)\s+(?P<key>[\w.\-]+):\s*(?P<value>-?[\d.]+)\s*(?P<unit>\w+)")
SCALE = {"mA": 1.0, "A": 1e3, "mV": 1e-3, "V": 1.0, "mW": 1.0, "W": 1e3, "mC": 1e-3, "C": 1.0}
QUANTITY = {"mA": "current", "A": "current", "mV": "voltage", "V": "voltage"}
QUANTITY |= {"mW": "power", "W": "power", "mC": "thermal", "C": "thermal"}


@register
class Jetson:
    name = "jetson-log"
    description = "Jetson monitor '<time_ns> <key>: <value> <unit>' lines"
    reads_folders = False

    def sniff(self, path: Path, head: str) -> bool:
        lines = [line.strip() for line in head.splitlines()[:10] if line.strip()]
        return bool(lines) and all(LINE.fullmatch(line) for line in lines)

    def read(self, path: Path) -> ImportResult:
        rails: dict[str, dict[int, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
        thermal: dict[str, list[float]] = defaultdict(list)
        malformed: list[Malformed] = []
        for number, line in enumerate(read_text(path).splitlines(), start=1):
            if not line.strip():
                continue
            match = LINE.fullmatch(line.strip())
            unit = match["unit"] if match else ""
            if match is None or unit not in SCALE:
                malformed.append(Malformed(str(path), number, line, "not '<ns> <key>: <v> <unit>'"))
                continue
            value = float(match["value"]) * SCALE[unit]
            quantity, key = QUANTITY[unit], match["key"]
            if quantity == "thermal":
                thermal[key].append(value)
                continue
            prefix = f"{quantity}_"
            if not key.startswith(prefix):
                malformed.append(Malformed(str(path), number, line, f"{unit} for key '{key}'"))
                continue
            rails[key.removeprefix(prefix)][int(match["ns"])][quantity] = value
        run = ImportedRun(label=path.name, sources=[str(path)], device="jetson")
        for rail, by_time in sorted(rails.items()):
            times = sorted(by_time)
            readings = [by_time[t] for t in times]
            both = all("current" in r and "voltage" in r for r in readings)
            power = [
                r["current"] * r["voltage"] if both else r.get("power", float("nan"))
                for r in readings
            ]
            run.power.append(
                PowerTrace(
                    source=f"Jetson monitor {path.name}",
                    rail=rail,
                    t_s=tuple(t / 1e9 for t in times),
                    power_mw=tuple(power),
                    current_ma=tuple(r["current"] for r in readings) if both else None,
                    voltage_v=tuple(r["voltage"] for r in readings) if both else None,
                )
            )
        run.thermal_c = {zone: (min(v), max(v)) for zone, v in sorted(thermal.items())}
        found = [f"{len(run.power)} power rail(s)", f"{len(thermal)} thermal zone(s)"]
        return ImportResult(self.name, [run], malformed, found)
