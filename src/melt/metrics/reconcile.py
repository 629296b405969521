"""melt's prefill and decode rates against llama-bench's on the same device (`--reconcile`):
the ratio per phase, and the differences both sides recorded that can explain a gap.

A difference is named only from what was recorded: the run's settings and its turns' token
counts on melt's side, llama-bench's JSON row (and the command it was given) on the other.
Nothing here guesses a cause; where no recorded difference exists, none is named.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

TOLERANCE = 0.05  # the ratio's band (±5%) inside which the two tools agree
# llama-bench's JSON `flash_attn`: -1 auto, 0 off, 1 on (llama_flash_attn_type).
FLASH_ATTN_CODES = {"auto": -1, "off": 0, "on": 1}


@dataclass(frozen=True, slots=True)
class Spread:
    """A token count over the measured turns: median, least and most."""

    median: int
    low: int
    high: int

    @classmethod
    def of(cls, values: Sequence[int | None]) -> Spread | None:
        known = sorted(v for v in values if v is not None)
        if not known:
            return None
        return cls(int(statistics.median_low(known)), known[0], known[-1])


@dataclass(frozen=True, slots=True)
class MeltSide:
    """What a run measured and was set to, as its stored row and turns say."""

    prefill_tok_per_s: float | None
    decode_tok_per_s: float | None
    prompt: Spread | None  # tokens evaluated per turn
    depth: Spread | None  # tokens reused from earlier turns (already in the KV cache)
    generated: Spread | None
    reply_budget: int
    threads: int
    batch: int
    warmup_turns: int
    engine: Mapping[str, Any]
    sampling: Mapping[str, Any]


def melt_side(run: Mapping[str, Any], turns: Sequence[Mapping[str, Any]]) -> MeltSide:
    """A run's side of the comparison from its stored row and turns (warm-up turns out)."""
    measured = [t for t in turns if not t["warmup"]]
    settings = run["settings"] or {}
    return MeltSide(
        prefill_tok_per_s=_median([t["prefill_tok_per_s"] for t in measured]),
        decode_tok_per_s=_median([t["decode_tok_per_s"] for t in measured]),
        prompt=Spread.of([t["prompt_tokens_evaluated"] for t in measured]),
        depth=Spread.of([t["prompt_tokens_reused"] for t in measured]),
        generated=Spread.of([t["generated_tokens"] for t in measured]),
        reply_budget=int(run["max_new_tokens"]),
        threads=int(run["threads"]),
        batch=int(run["batch"]),
        warmup_turns=int(run["warmup_turns"]),
        engine=settings.get("engine") or {},
        sampling=settings.get("sampling") or {},
    )


@dataclass(frozen=True, slots=True)
class PhaseComparison:
    """One phase (prefill or decode): both rates in tok/s, melt / llama-bench, and the
    recorded differences between the two measurements."""

    phase: str
    melt_tok_per_s: float | None
    tool_tok_per_s: float
    differences: tuple[str, ...]

    @property
    def ratio(self) -> float | None:
        if self.melt_tok_per_s is None or self.tool_tok_per_s <= 0:
            return None
        return self.melt_tok_per_s / self.tool_tok_per_s

    @property
    def agrees(self) -> bool:
        return self.ratio is not None and abs(self.ratio - 1) <= TOLERANCE

    def note(self) -> str:
        """What a reader is told beside the ratio: nothing inside ±5%, else the recorded
        differences, or that none was recorded."""
        if self.agrees:
            return ""
        if self.ratio is None:
            return "melt has no rate for this phase"
        if not self.differences:
            return "outside ±5%; no recorded setting or token count differs"
        return "; ".join(self.differences)


def compare(melt: MeltSide, rows: Sequence[Mapping[str, Any]]) -> list[PhaseComparison]:
    """Each stored llama-bench row (`tool_rows`: its counts, `avg_tok_per_s`, the JSON `row`
    and the `argv` it was given) against melt's same phase, with its named differences."""
    out = []
    for row in rows:
        prefill = bool(row["n_prompt"])
        differences = [
            *_setting_differences(melt, row["row"]),
            *_shape_differences(melt, row, prefill),
            *_warmup_difference(melt, row["argv"]),
        ]
        if not prefill:
            differences += _sampling_difference(melt)
        out.append(
            PhaseComparison(
                phase="prefill" if prefill else "decode",
                melt_tok_per_s=melt.prefill_tok_per_s if prefill else melt.decode_tok_per_s,
                tool_tok_per_s=float(row["avg_tok_per_s"]),
                differences=tuple(differences),
            )
        )
    return out


def _setting_differences(melt: MeltSide, row: Mapping[str, Any]) -> list[str]:
    """The settings both record, where llama-bench's row says another value than melt's."""
    engine = melt.engine
    names = {code: name for name, code in FLASH_ATTN_CODES.items()}
    flash_attn = names.get(row.get("flash_attn"), row.get("flash_attn"))
    pairs = [
        ("threads", melt.threads, row.get("n_threads")),
        ("batch", melt.batch, row.get("n_batch")),
        ("micro-batch", melt.batch, row.get("n_ubatch")),
        ("flash attention", engine.get("flash_attn"), flash_attn),
        ("KV type K", engine.get("cache_type_k"), row.get("type_k")),
        ("KV type V", engine.get("cache_type_v"), row.get("type_v")),
        ("GPU layers", _gpu_layers(engine), row.get("n_gpu_layers")),
    ]  # fmt: skip
    return [
        f"{name}: melt {mine}, llama-bench {theirs}"
        for name, mine, theirs in pairs
        if mine is not None and theirs is not None and mine != theirs
    ]


def _shape_differences(melt: MeltSide, row: Mapping[str, Any], prefill: bool) -> list[str]:
    depth = _count_difference("depth", melt.depth, row["n_depth"], "tokens already in the KV cache")
    if prefill:
        return depth + _count_difference("prompt", melt.prompt, row["n_prompt"], "tokens evaluated")
    return depth + _count_difference("reply", melt.generated, row["n_gen"], "tokens generated")


def _count_difference(name: str, spread: Spread | None, tool: int, unit: str) -> list[str]:
    if spread is None:
        return [f"{name}: melt did not record its {unit}; llama-bench used {tool}"]
    out = []
    if spread.median != tool:
        out.append(f"{name}: melt's median {spread.median} {unit}, llama-bench {tool}")
    if spread.low != spread.high:
        out.append(
            f"{name}: melt's turns ranged {spread.low}–{spread.high} {unit}, "
            f"llama-bench measured one size ({tool})"
        )
    return out


def _warmup_difference(melt: MeltSide, argv: Sequence[str]) -> list[str]:
    if melt.warmup_turns == 0 and "--no-warmup" not in argv:
        return ["warm-up: melt ran no warm-up turn (--warmup 0); llama-bench warms up each test"]
    return []


def _sampling_difference(melt: MeltSide) -> list[str]:
    s = melt.sampling
    if not s or float(s.get("temperature", 0)) == 0:
        return []
    chain = (
        f"temperature {s.get('temperature')}, top-k {s.get('top_k')}, top-p {s.get('top_p')}, "
        f"min-p {s.get('min_p')}, repeat penalty {s.get('repeat_penalty')}"
    )
    return [
        f"sampling: melt draws each token through a chain ({chain}); llama-bench does not sample"
    ]


def _gpu_layers(engine: Mapping[str, Any]) -> int:
    for name in ("gpu_layers", "n_gpu_layers"):
        if engine.get(name) is not None:
            return int(engine[name])
    return 0


def _median(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None
