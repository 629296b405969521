"""The roofline reads the bandwidth of the memory the run's weights lived in, and says which:
a discrete GPU's own memory (a recorded device fact, never guessed), DRAM for a CPU run or a
unified-memory SoC; and prefill against a compute bound only where a peak FLOP/s is a fact."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.report.compute_runs import CUDA0, VULKAN0, cpu_use, gpu_use, set_compute
from tests.report.stores import FACTS, add_run

from melt.compute import ComputeUse
from melt.report.bounds import peak_flops, weights_bandwidth
from melt.report.content import build_report
from melt.store import open_store

DRAM = {"memory_bandwidth": {"bytes_per_s": 2e10, "method": "numpy dot"}}
HBM = {"accelerator_memory_bandwidth": {"bytes_per_s": 2e12, "source": "datasheet, 2 TB/s"}}


def _run(use: ComputeUse | None, facts: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "device": "box",
        "compute": None if use is None else use.record(),
        "environment": {"facts": facts},
        **extra,
    }


def test_a_cpu_run_reads_dram() -> None:
    got = weights_bandwidth(_run(cpu_use(), {**DRAM, **HBM}))
    assert got.bytes_per_s == 2e10
    assert got.says.startswith("weights in DRAM (CPU run)") and "numpy dot" in got.says


def test_a_discrete_gpu_with_every_layer_reads_its_own_memory() -> None:
    got = weights_bandwidth(_run(gpu_use(), {**DRAM, **HBM}))
    assert got.bytes_per_s == 2e12
    assert f"weights in {CUDA0.label}'s own memory (discrete)" in got.says
    assert "datasheet, 2 TB/s" in got.says


def test_a_fact_the_user_stated_in_the_inventory_counts_too() -> None:
    got = weights_bandwidth(_run(gpu_use(), {**DRAM, "extra": HBM}))
    assert got.bytes_per_s == 2e12


def test_a_discrete_gpu_without_the_fact_has_no_bound_not_drams() -> None:
    got = weights_bandwidth(_run(gpu_use(), DRAM))
    assert got.bytes_per_s is None
    assert "no bound" in got.says
    assert "'melt devices fact box accelerator_memory_bandwidth BYTES_PER_S" in got.says


def test_a_unified_memory_gpu_reads_dram_and_says_so() -> None:
    got = weights_bandwidth(_run(gpu_use(VULKAN0), {**DRAM, **HBM}))
    assert got.bytes_per_s == 2e10
    assert f"shared with {VULKAN0.label} (unified memory)" in got.says


def test_a_partial_offload_to_a_discrete_gpu_has_no_single_bound() -> None:
    got = weights_bandwidth(_run(gpu_use(offloaded=16, total=31), {**DRAM, **HBM}))
    assert got.bytes_per_s is None and "(16/31 layers offloaded)" in got.says


def test_unknown_memory_kind_and_imports_without_a_record_have_no_bound() -> None:
    from dataclasses import replace

    unknown = gpu_use(replace(CUDA0, unified_memory=None))
    assert weights_bandwidth(_run(unknown, {**DRAM, **HBM})).bytes_per_s is None
    imported = _run(None, DRAM, settings={"imported": {"format": "melt"}})
    assert weights_bandwidth(imported).bytes_per_s is None


def test_peak_flops_only_from_a_fact_of_the_device_that_ran() -> None:
    cpu_peak = {"peak_flops": {"flops_per_s": 1e11, "source": "measured"}}
    gpu_peak = {"accelerator_peak_flops": {"flops_per_s": 1e15, "source": "datasheet"}}
    says = peak_flops(_run(gpu_use(), cpu_peak)).says
    assert says.startswith("no compute bound: peak FLOP/s unknown (state it with 'melt devices")
    assert peak_flops(_run(cpu_use(), gpu_peak)).flops_per_s is None
    assert peak_flops(_run(gpu_use(), gpu_peak)).flops_per_s == 1e15
    assert peak_flops(_run(cpu_use(), cpu_peak)).flops_per_s == 1e11


def test_a_stored_gpu_run_known_answer(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "s.db"))
    exp = store.create_experiment("gpu", "melt bench", {})
    facts = {
        **FACTS,
        **DRAM,
        **HBM,
        "accelerator_peak_flops": {"flops_per_s": 1e12, "source": "datasheet"},
    }
    run_id = add_run(store, exp, [100, 100], [0.1, 0.2], facts=facts)
    set_compute(store, run_id, gpu_use())
    run = store.run(run_id)
    settings = {
        **run["settings"],
        "kv_shape": {"n_layer": 30, "n_head_kv": 3, "head_dim": 64},
        "model_params": 50_000_000,
    }
    store.update_run(run_id, settings=settings)
    (view,) = build_report(store, [store.run(run_id)]).runs
    result = view.roofline.result
    assert result is not None and result.bandwidth_bytes_per_s == 2e12
    # depth: prompts 50 and 100 plus half of 9 generated; median 79.5; KV 23040 B a token
    assert result.bound_tok_per_s == pytest.approx(2e12 / (100_000_000 + 23_040 * 79.5))
    assert "own memory (discrete)" in view.roofline.says
    bound = view.prefill_bound.result
    assert bound is not None
    assert bound.bound_tok_per_s == pytest.approx(1e12 / (2 * 50_000_000))  # 10000 tok/s
    assert bound.prefill_tok_per_s == pytest.approx(375.0)  # median of 500 and 250
    assert view.prefill_bound.says.startswith("4% of the compute limit (375.0 of 10000.0 tok/s")
