"""`--limit N`: a seeded, recorded choice of N items, the same for every variant."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from melt.accuracy.tasks import Item
from melt.errors import MeltError

DEFAULT_SEED = 1234


def select(items: Sequence[Item], limit: int | None, seed: int = DEFAULT_SEED) -> list[Item]:
    """All items, or `limit` of them drawn without replacement by a seeded generator and
    kept in their original order (so shared prefixes stay adjacent)."""
    if limit is None or limit >= len(items):
        return list(items)
    if limit < 1:
        raise MeltError(f"--limit must be at least 1 (got {limit})")
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(len(items), size=limit, replace=False))
    return [items[int(i)] for i in chosen]


def selection_sha256(items: Sequence[Item]) -> str:
    """Fingerprint of which documents were scored, to tell two runs scored the same ones."""
    ids = ",".join(str(i.doc_id) for i in items)
    return hashlib.sha256(ids.encode()).hexdigest()
