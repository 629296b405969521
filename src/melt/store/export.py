"""Export a stored run as one JSON document, or as CSV: one row per turn, or one row per
sample (long format) with its unit and provenance.

Sample times are `t_ns` on the device's monotonic clock (the clock of the turns' timestamps)
and `t_s` in seconds from the sampler's start; `sampling.wall_anchor_ns` is the calendar time
of `sampling.started_ns`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

from melt.metrics.timeline import series_document
from melt.store.db import Store
from melt.store.profiles import energy_figures, intervals
from melt.store.samples import run_samples, run_sampling
from melt.traces.sample import Sample

CSV_EXCLUDED = ("output_text", "engine_timers", "token_ns")
SAMPLE_COLUMNS = (
    "run_id",
    "probe",
    "series",
    "unit",
    "provenance",
    "source",
    "t_ns",
    "t_s",
    "value",
)
CSV_TABLES = ("turns", "samples")


def probe_sources(sampling: Mapping[str, Any] | None) -> dict[str, str]:
    """What each probe read (`sampling.probes[].source`), by probe name."""
    return {p["name"]: p["source"] for p in (sampling or {}).get("probes", [])}


def origin_ns(sampling: Mapping[str, Any] | None, samples: Sequence[Sample]) -> int | None:
    """The run's `t = 0` for sample times: the sampler's start, else the first sample."""
    if sampling:
        return int(sampling["started_ns"])
    return samples[0].t_ns if samples else None


def sample_series(store: Store, run_id: int) -> dict[str, dict[str, Any]]:
    """Every sample series of a run, keyed `probe/channel`, as parallel `t_ns` / `value`
    lists with unit, provenance and the probe's source (as `melt bench --json` has them)."""
    sources = probe_sources(run_sampling(store, run_id))
    return series_document(run_samples(store, run_id), sources)


def run_document(store: Store, run_id: int) -> dict[str, Any]:
    run = store.run(run_id)
    run["turns"] = store.turns(run_id, with_tokens=True)
    run["sampling"] = run_sampling(store, run_id)
    run["samples"] = sample_series(store, run_id)
    run["event_intervals"] = intervals(store, run_id)
    run["energy_figures"] = energy_figures(store, run_id)
    return run


def export_json(store: Store, run_id: int) -> str:
    return json.dumps(run_document(store, run_id), indent=2, default=str, ensure_ascii=False)


def export_csv(store: Store, run_id: int) -> str:
    """One row per turn, keyed by the run's comparability properties."""
    run = store.run(run_id)
    keys = ("model_sha256", "model_quant", "framework_version", "device", "threads", "ctx")
    rows = store.turns(run_id)
    buf = io.StringIO()
    fields = ["run_id", *keys] + [c for c in (rows[0] if rows else {}) if c not in CSV_EXCLUDED]
    writer = csv.DictWriter(buf, fieldnames=list(dict.fromkeys(fields)), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({**{k: run[k] for k in keys}, **row})
    return buf.getvalue()


def export_samples_csv(store: Store, run_id: int) -> str:
    """Every sample of a run, one row each (long format, time order): `series` is the
    probe's channel, `t_s` is seconds from the sampler's start (from the first sample
    without a sampling record), `value` is in `unit`."""
    store.run(run_id)
    sampling = run_sampling(store, run_id)
    samples = run_samples(store, run_id)
    sources = probe_sources(sampling)
    origin = origin_ns(sampling, samples) or 0
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(SAMPLE_COLUMNS)
    for s in samples:
        t_s = f"{(s.t_ns - origin) / 1e9:.9f}"
        writer.writerow(
            (
                run_id,
                s.probe,
                s.channel,
                s.unit,
                str(s.provenance),
                sources.get(s.probe, ""),
                s.t_ns,
                t_s,
                repr(s.value),
            )
        )
    return buf.getvalue()
