"""melt from Python, for notebooks: a results store's runs, turns, samples and scores as
pandas DataFrames (``pip install 'melt-bench[api]'``).

    import melt.api as melt
    results = melt.open_results("melt-results/melt.db")
    runs = results.runs()                      # one row per run, key properties + medians
    turns = results.turns(runs.id.tolist())    # one row per turn (warmup flagged)
    samples = results.samples(runs.id[0])      # long format: t_s, probe, channel, value, unit
    scores = results.scores()                  # accuracy, joinable on model_sha256
    tables = results.report(runs.id.tolist())  # the report's tables (summary, qoe, roofline…)

Units are in the column names or in a ``unit`` column. Nothing here writes to the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from melt.errors import MeltError
from melt.extras import install_hint
from melt.metrics.qoe import DEFAULT_READING_WPM
from melt.store import Store, open_store, schema
from melt.store.samples import run_samples

if TYPE_CHECKING:
    import pandas as pd

NS_PER_S = 1e9
RUN_MEDIANS = ("ttft_s", "prefill_tok_per_s", "decode_tok_per_s", "e2e_s")


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:
        raise MeltError(f"melt.api needs pandas; install it with {install_hint('api')}") from None
    return pandas


def _select(store: Store, query: Any) -> list[dict[str, Any]]:
    with store.engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


class Results:
    """Read-only views of one store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def runs(self, experiment_id: int | None = None) -> pd.DataFrame:
        """One row per run: every runs column except the raw summary/settings JSON, plus the
        per-turn medians (``decode_tok_per_s_median``…) and the device's CPU and host."""
        query = select(schema.runs, schema.environments.c.host, schema.environments.c.cpu_model)
        query = query.join(schema.environments).order_by(schema.runs.c.id)
        if experiment_id is not None:
            query = query.where(schema.runs.c.experiment_id == experiment_id)
        rows = []
        for row in _select(self.store, query):
            aggregates = (row.pop("summary") or {}).get("aggregates", {})
            for name in RUN_MEDIANS:
                row[f"{name}_median"] = (aggregates.get(name) or {}).get("median")
            row["turns_measured"] = aggregates.get("turns")
            rows.append(row)
        return _pandas().DataFrame(rows)

    def turns(self, run_ids: Sequence[int] | None = None) -> pd.DataFrame:
        """One row per turn (warmup turns included, flagged in ``warmup``)."""
        query = select(schema.turns).order_by(schema.turns.c.id)
        if run_ids is not None:
            query = query.where(schema.turns.c.run_id.in_([int(i) for i in run_ids]))
        return _pandas().DataFrame(_select(self.store, query))

    def samples(self, run_id: int) -> pd.DataFrame:
        """Probe samples of one run in time order; ``t_s`` is seconds from the first."""
        found = run_samples(self.store, int(run_id))
        origin = found[0].t_ns if found else 0
        return _pandas().DataFrame(
            [
                {
                    "run_id": int(run_id),
                    "t_ns": s.t_ns,
                    "t_s": (s.t_ns - origin) / NS_PER_S,
                    "probe": s.probe,
                    "channel": s.channel,
                    "value": s.value,
                    "unit": s.unit,
                    "provenance": str(s.provenance),
                }
                for s in found
            ],
            columns=["run_id", "t_ns", "t_s", "probe", "channel", "value", "unit", "provenance"],
        )

    def scores(self, model_sha256: str | None = None) -> pd.DataFrame:
        """Accuracy scores (one row per task × metric × variant)."""
        query = select(schema.scores).order_by(schema.scores.c.id)
        if model_sha256 is not None:
            query = query.where(schema.scores.c.model_sha256 == model_sha256)
        return _pandas().DataFrame(_select(self.store, query))

    def report(
        self, run_ids: Sequence[int], reading_wpm: float = DEFAULT_READING_WPM
    ) -> dict[str, pd.DataFrame]:
        """The tables of `melt report` (summary, turns, qoe, roofline, outliers, environment,
        pareto) for these runs."""
        from melt.report.content import build_report

        content = build_report(self.store, [self.store.run(int(i)) for i in run_ids], reading_wpm)
        pandas = _pandas()
        return {name: pandas.DataFrame(rows) for name, rows in content.tables().items()}


def open_results(store: str | None = None) -> Results:
    """Open a store by path or SQLAlchemy URL (default ``melt-results/melt.db``)."""
    return Results(open_store(store, create=False))
