"""melt vs llama-bench (`metrics/reconcile.py`) on hand-made records: the ratio per phase, and
outside ±5% only the differences the two records show, each named from both sides."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from melt.metrics.reconcile import MeltSide, Spread, compare

MELT = MeltSide(
    prefill_tok_per_s=100.0,
    decode_tok_per_s=50.0,
    prompt=Spread(16, 16, 16),
    depth=Spread(40, 40, 40),
    generated=Spread(8, 8, 8),
    reply_budget=8,
    threads=1,
    batch=512,
    warmup_turns=1,
    engine={"flash_attn": "auto", "cache_type_k": "f16", "cache_type_v": "f16"},
    sampling={"temperature": 0.0},
)
SETTINGS = {"n_threads": 1, "n_batch": 512, "n_ubatch": 512, "flash_attn": -1,
            "type_k": "f16", "type_v": "f16", "n_gpu_layers": 0}  # fmt: skip


def stored(n_prompt: int, n_gen: int, n_depth: int, rate: float, **row: Any) -> dict[str, Any]:
    """A `tool_rows` row as the store gives it back."""
    return {
        "n_prompt": n_prompt,
        "n_gen": n_gen,
        "n_depth": n_depth,
        "avg_tok_per_s": rate,
        "argv": ["llama-bench", "-p", str(n_prompt), "-n", str(n_gen)],
        "row": {**SETTINGS, **row},
    }


def test_matching_records_within_five_percent_name_nothing() -> None:
    pp, tg = compare(MELT, [stored(16, 0, 40, 103.0), stored(0, 8, 40, 48.0)])
    assert (pp.phase, tg.phase) == ("prefill", "decode")
    assert pp.ratio == pytest.approx(100 / 103) and tg.ratio == pytest.approx(50 / 48)
    assert pp.agrees and tg.agrees
    assert pp.differences == tg.differences == ()
    assert pp.note() == tg.note() == ""


def test_outside_five_percent_with_nothing_recorded_apart_says_so() -> None:
    (tg,) = compare(MELT, [stored(0, 8, 40, 60.0)])
    assert not tg.agrees
    assert tg.note() == "outside ±5%; no recorded setting or token count differs"


def test_a_setting_llama_bench_ran_with_otherwise_is_named_from_its_row() -> None:
    (pp,) = compare(MELT, [stored(16, 0, 40, 200.0, n_threads=2, type_v="q8_0", flash_attn=1)])
    assert pp.differences == (
        "threads: melt 1, llama-bench 2",
        "flash attention: melt auto, llama-bench on",
        "KV type V: melt f16, llama-bench q8_0",
    )
    assert pp.note() == "; ".join(pp.differences)


def test_depth_prompt_and_reply_differences_come_from_melts_turns() -> None:
    melt = replace(
        MELT, depth=Spread(30, 0, 64), prompt=Spread(16, 16, 34), generated=Spread(5, 2, 8)
    )
    pp, tg = compare(melt, [stored(16, 0, 40, 200.0), stored(0, 8, 40, 100.0)])
    assert pp.differences == (
        "depth: melt's median 30 tokens already in the KV cache, llama-bench 40",
        "depth: melt's turns ranged 0–64 tokens already in the KV cache, llama-bench measured "
        "one size (40)",
        "prompt: melt's turns ranged 16–34 tokens evaluated, llama-bench measured one size (16)",
    )
    assert tg.differences[2:] == (
        "reply: melt's median 5 tokens generated, llama-bench 8",
        "reply: melt's turns ranged 2–8 tokens generated, llama-bench measured one size (8)",
    )


def test_sampling_and_warm_up_are_named_where_the_run_recorded_them() -> None:
    chain = {"temperature": 0.7, "top_k": 40, "top_p": 0.95, "min_p": 0.05, "repeat_penalty": 1.0}
    melt = replace(MELT, warmup_turns=0, sampling=chain)
    pp, tg = compare(melt, [stored(16, 0, 40, 200.0), stored(0, 8, 40, 100.0)])
    warmup = "warm-up: melt ran no warm-up turn (--warmup 0); llama-bench warms up each test"
    assert pp.differences == (warmup,)  # sampling is a decode matter
    assert tg.differences == (
        warmup,
        "sampling: melt draws each token through a chain (temperature 0.7, top-k 40, top-p "
        "0.95, min-p 0.05, repeat penalty 1.0); llama-bench does not sample",
    )
    told = stored(0, 8, 40, 100.0)
    told["argv"] = [*told["argv"], "--no-warmup"]
    (tg,) = compare(melt, [told])
    assert warmup not in tg.differences


def test_a_phase_melt_has_no_rate_for_has_no_ratio() -> None:
    (tg,) = compare(replace(MELT, decode_tok_per_s=None), [stored(0, 8, 40, 50.0)])
    assert tg.ratio is None and tg.note() == "melt has no rate for this phase"
