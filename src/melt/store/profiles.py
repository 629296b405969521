"""Read and write per-op timings, event intervals and energy figures of a run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import insert, select

from melt.metrics.energy import WindowEnergy
from melt.metrics.ops import OpTiming
from melt.store import schema
from melt.store.db import Store
from melt.traces.importers.base import Interval


@dataclass(frozen=True, slots=True)
class EnergyFigure:
    """An energy figure of one window of one rail, with the mode that integrated it and
    where its samples came from."""

    window: str
    rail: str
    energy: WindowEnergy
    source: str
    provenance: str = "measured"


def add_op_timings(store: Store, run_id: int, timings: Sequence[OpTiming]) -> None:
    if not timings:
        return
    rows = [{"run_id": run_id, **asdict(t)} for t in timings]
    store.write(lambda conn: conn.execute(insert(schema.op_timings), rows))


def op_timings(store: Store, run_id: int) -> list[OpTiming]:
    table = schema.op_timings
    query = select(table).where(table.c.run_id == run_id).order_by(table.c.id)
    return store.read(
        lambda conn: [
            OpTiming(
                op=r.op,
                wall_us=r.wall_us,
                calls=r.calls,
                graph_index=r.graph_index,
                node_index=r.node_index,
                cpu_us=r.cpu_us,
                shape=r.shape,
            )
            for r in conn.execute(query)
        ]
    )


def add_intervals(store: Store, run_id: int, intervals: Sequence[Interval]) -> None:
    if not intervals:
        return
    rows = [
        {"run_id": run_id, "name": i.name, "start_ns": i.start_ns, "end_ns": i.end_ns}
        for i in intervals
    ]
    store.write(lambda conn: conn.execute(insert(schema.event_intervals), rows))


def intervals(store: Store, run_id: int) -> list[dict[str, Any]]:
    table = schema.event_intervals
    query = select(table).where(table.c.run_id == run_id).order_by(table.c.id)
    return store.read(lambda conn: [dict(r._mapping) for r in conn.execute(query)])


def add_energy_figures(store: Store, run_id: int, figures: Sequence[EnergyFigure]) -> None:
    if not figures:
        return
    rows = [
        {
            "run_id": run_id,
            "window": f.window,
            "rail": f.rail,
            "mode": str(f.energy.mode),
            "energy_mwh": f.energy.energy_mwh,
            "charge_mah": f.energy.charge_mah,
            "samples": f.energy.samples,
            "duration_s": f.energy.duration_s,
            "source": f.source,
            "provenance": f.provenance,
        }
        for f in figures
    ]
    store.write(lambda conn: conn.execute(insert(schema.energy_figures), rows))


def energy_figures(store: Store, run_id: int) -> list[dict[str, Any]]:
    table = schema.energy_figures
    query = select(table).where(table.c.run_id == run_id).order_by(table.c.id)
    return store.read(lambda conn: [dict(r._mapping) for r in conn.execute(query)])
