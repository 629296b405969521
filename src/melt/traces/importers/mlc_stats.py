"""MLC runtime stats JSON: ``{"prefill": {"throughput": "283.4 tok/s", "total tokens":
"47 tok", ...}, "decode": {...}}``, one generation per file."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from melt.errors import MeltError
from melt.traces.importers.base import ImportedRun, ImportedTurn, ImportResult, read_text
from melt.traces.importers.registry import register

QUANTITY = re.compile(r"\s*(?P<value>-?\d+(?:\.\d+)?)\s*(?P<unit>[\w/]*)\s*")


def _number(phase: dict[str, Any], key: str, units: tuple[str, ...]) -> float | None:
    raw = phase.get(key)
    if raw is None:
        return None
    match = QUANTITY.fullmatch(str(raw))
    if match is None or (match["unit"] and match["unit"] not in units):
        raise ValueError(f"'{key}' = {raw!r}")
    return float(match["value"])


def _phase(stats: dict[str, Any], name: str) -> tuple[float | None, int]:
    phase = stats.get(name) or {}
    rate = _number(phase, "throughput", ("tok/s",))
    tokens = _number(phase, "total tokens", ("tok", "tokens"))
    return rate, int(tokens or 0)


def _counters(stats: dict[str, Any]) -> dict[str, float]:
    """Every numeric entry of both phases, as ``<phase>.<key> [<unit>]``."""
    out: dict[str, float] = {}
    for phase in ("prefill", "decode"):
        for key, raw in (stats.get(phase) or {}).items():
            match = QUANTITY.fullmatch(str(raw))
            if match is not None:
                unit = f" [{match['unit']}]" if match["unit"] else ""
                out[f"{phase}.{key}{unit}"] = float(match["value"])
    return out


@register
class MlcStats:
    name = "mlc-stats"
    description = "MLC runtime stats JSON"
    reads_folders = False

    def sniff(self, path: Path, head: str) -> bool:
        text = head.lstrip()
        return text.startswith("{") and '"prefill"' in head and '"decode"' in head

    def read(self, path: Path) -> ImportResult:
        try:
            stats = json.loads(read_text(path))
            prefill_rate, prompt_tokens = _phase(stats, "prefill")
            decode_rate, generated = _phase(stats, "decode")
        except (ValueError, AttributeError) as exc:
            raise MeltError(f"'{path}' is not MLC runtime stats JSON ({exc})") from None
        run = ImportedRun(label=path.name, sources=[str(path)], framework="mlc")
        run.turns.append(
            ImportedTurn(
                index=0,
                prompt_tokens=prompt_tokens,
                generated_tokens=generated,
                prefill_ms=prompt_tokens / prefill_rate * 1e3 if prefill_rate else None,
                decode_ms=generated / decode_rate * 1e3 if decode_rate else None,
                decode_steps=generated,
                prefill_tok_per_s=prefill_rate,
                decode_tok_per_s=decode_rate,
                counters=_counters(stats),
            )
        )
        found = [
            f"prefill {prefill_rate} tok/s over {prompt_tokens} tok, decode {decode_rate} "
            f"tok/s over {generated} tok"
        ]
        return ImportResult(self.name, [run], [], found)
