"""Probe samples and sampling records of a run (tables `samples` and `sampling`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import insert, select

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
    with store.engine.begin() as conn:
        conn.execute(insert(schema.samples), rows)


def run_samples(store: Store, run_id: int) -> list[Sample]:
    """Every sample of a run in time order."""
    table = schema.samples
    query = select(table).where(table.c.run_id == run_id).order_by(table.c.t_ns, table.c.id)
    with store.engine.connect() as conn:
        return [
            Sample(
                t_ns=row.t_ns,
                probe=row.probe,
                channel=row.channel,
                value=row.value,
                unit=row.unit,
                provenance=Provenance(row.provenance),
            )
            for row in conn.execute(query)
        ]


def add_sampling(store: Store, run_id: int, **columns: Any) -> None:
    """The sampler's record of a run: rate, drops, own cost, probes and windows."""
    with store.engine.begin() as conn:
        conn.execute(insert(schema.sampling).values(run_id=run_id, **columns))


def run_sampling(store: Store, run_id: int) -> Mapping[str, Any] | None:
    table = schema.sampling
    with store.engine.connect() as conn:
        row = conn.execute(select(table).where(table.c.run_id == run_id)).first()
    return None if row is None else dict(row._mapping)
