"""Probe samples and sampling records of a run (tables `samples` and `sampling`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, insert, select

from melt.store import schema
from melt.store.db import Store
from melt.traces.sample import Provenance, Sample


class SampleWriter:
    """A sampler sink: inserts each batch of one run's samples in one committed transaction."""

    def __init__(self, store: Store, run_id: int) -> None:
        self.store = store
        self.run_id = run_id

    def __call__(self, batch: list[Sample]) -> None:
        add_samples(self.store, self.run_id, batch)


def add_samples(store: Store, run_id: int, batch: Sequence[Sample]) -> None:
    if not batch:
        return
    rows = [
        {
            "run_id": run_id,
            "t_ns": s.t_ns,
            "probe": s.probe,
            "channel": s.channel,
            "value": s.value,
            "unit": s.unit,
            "provenance": str(s.provenance),
        }
        for s in batch
    ]

    def insert_batch(conn: Connection) -> None:
        conn.execute(insert(schema.samples), rows)
        store.heartbeat(run_id, conn)

    store.write(insert_batch)


SampleRow = tuple[int, str, str, float, str, str]  # t_ns, probe, channel, value, unit, provenance


def sample_rows(store: Store, run_id: int) -> list[SampleRow]:
    """Every sample of a run in time order, as the driver's plain tuples (a report reads
    tens of thousands per run; SQLAlchemy's row objects and one `Sample` per row cost more
    than the query, and none of these columns' types converts a value)."""
    table = schema.samples
    columns = (table.c.t_ns, table.c.probe, table.c.channel, table.c.value, table.c.unit)
    query = (
        select(*columns, table.c.provenance)
        .where(table.c.run_id == run_id)
        .order_by(table.c.t_ns, table.c.id)
    )
    return store.read(lambda conn: conn.execute(query).cursor.fetchall())


def run_samples(store: Store, run_id: int) -> list[Sample]:
    """Every sample of a run in time order."""
    provenance = {p.value: p for p in Provenance}
    return [
        Sample(t, probe, channel, value, unit, provenance[kind])
        for t, probe, channel, value, unit, kind in sample_rows(store, run_id)
    ]


def add_sampling(store: Store, run_id: int, **columns: Any) -> None:
    """The sampler's record of a run: rate, drops, own cost, probes and windows."""
    store.write(lambda conn: conn.execute(insert(schema.sampling).values(run_id=run_id, **columns)))


def run_sampling(store: Store, run_id: int) -> Mapping[str, Any] | None:
    table = schema.sampling
    row = store.read(
        lambda conn: conn.execute(select(table).where(table.c.run_id == run_id)).first()
    )
    return None if row is None else dict(row._mapping)
