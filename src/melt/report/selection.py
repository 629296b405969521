"""Which stored runs a report or comparison is about: run ids, ``exp:ID``, names saved
with `melt runs name`, or the newest experiment. Reads the store only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select

from melt.errors import MeltError
from melt.metrics.compare import METRICS, RunSample, key_properties
from melt.store import Store, schema
from melt.store.db import MAX_ROW_ID
from melt.store.names import is_name, saved_reference
from melt.values import store_id

EXPERIMENT_PREFIX = "exp:"


def last_experiment_id(store: Store) -> int:
    with store.engine.connect() as conn:
        found = conn.execute(select(func.max(schema.runs.c.experiment_id))).scalar()
    if found is None:
        raise MeltError(f"the store '{store.spec}' holds no runs yet (run 'melt bench' first)")
    return int(found)


def experiment_runs(store: Store, experiment_id: int) -> list[dict[str, Any]]:
    # an id no store can hold (past 64 bits) is no experiment, not an overflow in the driver
    rows = store.runs_of_experiment(experiment_id) if 0 < experiment_id <= MAX_ROW_ID else []
    if not rows:
        raise MeltError(
            f"no runs in experiment {experiment_id} in '{store.spec}' (see 'melt runs list')"
        )
    return [store.run(r["id"]) for r in rows]


def _target(store: Store, text: str) -> str:
    """The run id or ``exp:ID`` that `text` is, or that the saved name `text` points at."""
    if text.isdigit() or text.startswith(EXPERIMENT_PREFIX):
        return text
    if not is_name(text):
        raise MeltError(
            f"'{text}' is neither a run id, exp:ID nor a saved name (see 'melt runs list' "
            "and 'melt runs names')"
        )
    found = saved_reference(store, text)
    if found is None:
        raise MeltError(
            f"no saved name '{text}' in '{store.spec}' (see 'melt runs names'; save one with "
            "'melt runs name NAME RUN_ID|exp:ID')"
        )
    return found


def resolve_reference(store: Store, reference: str) -> tuple[str, list[dict[str, Any]]]:
    """The canonical reference (``12`` or ``exp:3``) behind `reference` (either of those or
    a saved name) and the runs, with their environment, it names."""
    text = _target(store, reference.strip())
    if text.startswith(EXPERIMENT_PREFIX):
        number = text.removeprefix(EXPERIMENT_PREFIX)
        if not number.isdigit():
            raise MeltError(f"'{reference}' is not exp:ID with a numeric ID (e.g. exp:3)")
        experiment = store_id(number, "experiment id")
        return f"{EXPERIMENT_PREFIX}{experiment}", experiment_runs(store, experiment)
    run_id = store_id(text, "run id")
    return str(run_id), [store.run(run_id)]


def resolve(store: Store, reference: str) -> list[dict[str, Any]]:
    """The runs (with their environment) a reference names: ``12``, ``exp:3`` or a name
    saved with `melt runs name`."""
    return resolve_reference(store, reference)[1]


def select_runs(
    store: Store, references: Sequence[str], experiment: int | None, last: bool
) -> list[dict[str, Any]]:
    """Runs for `melt report`: run ids, exp:IDs or saved names, one experiment, or the
    newest experiment."""
    if sum((bool(references), experiment is not None, last)) != 1:
        raise MeltError("name the runs: RUN_ID…, --experiment ID or --last (exactly one of them)")
    if references:
        return [run for reference in references for run in resolve(store, reference)]
    if last:
        return experiment_runs(store, last_experiment_id(store))
    return experiment_runs(store, store_id(experiment or 0, "--experiment"))


def measured_turns(store: Store, run_id: int, with_tokens: bool = False) -> list[dict[str, Any]]:
    return [t for t in store.turns(run_id, with_tokens=with_tokens) if not t["warmup"]]


def run_sample(store: Store, run: dict[str, Any]) -> RunSample:
    turns = measured_turns(store, run["id"])
    return RunSample(
        run_id=run["id"],
        properties=key_properties(run),
        values={m: [t[m] for t in turns if t[m] is not None] for m in METRICS},
        status=str(run["status"]),
    )
