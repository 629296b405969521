"""Export a stored run as one JSON document or as a CSV of its turns."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from melt.store.db import Store

CSV_EXCLUDED = ("output_text", "engine_timers", "token_ns")


def run_document(store: Store, run_id: int) -> dict[str, Any]:
    run = store.run(run_id)
    run["turns"] = store.turns(run_id, with_tokens=True)
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
