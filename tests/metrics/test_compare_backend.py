"""`compare` pairs rows by the compute backend the engine reported: a GPU run is never the
same row as a CPU run, and a row one side lacks says what that side has not."""

from melt.compute import CPU, ComputeDevice, ComputeUse
from melt.metrics.compare import RunSample, compare, compute_property, key_properties

GPU = ComputeUse(
    devices=(ComputeDevice("gpu", "CUDA", "CUDA0", "NVIDIA H100", unified_memory=False), CPU),
    layers_offloaded=31,
    layers_total=31,
)
GPU_LABEL = "CUDA0 NVIDIA H100 · 31/31 layers"


def sample(run_id: int, decode: float, compute: str, version: str) -> RunSample:
    props = {"quant": "Q8_0", "framework": f"llama.cpp {version}", "compute": compute}
    return RunSample(run_id, props, {"decode_tok_per_s": [decode] * 5})


def test_the_compute_property_is_the_engines_label_and_unknown_when_not_recorded() -> None:
    assert compute_property(GPU.record()) == GPU_LABEL
    assert compute_property(ComputeUse().record()) == "CPU"
    assert compute_property(None) == "?"
    run = {
        "device": "local",
        "model_sha256": "a" * 64,
        "model_quant": "Q8_0",
        "framework": "llama.cpp",
        "framework_version": "1",
        "workload_name": "chat",
        "workload_sha256": "c" * 64,
        "compute": GPU.record(),
    }
    assert key_properties(run)["compute"] == GPU_LABEL


def test_cpu_and_gpu_rows_pair_with_their_own_kind() -> None:
    base = [sample(1, 50.0, "CPU", "1"), sample(2, 100.0, GPU_LABEL, "1")]
    cand = [sample(3, 49.0, "CPU", "2"), sample(4, 110.0, GPU_LABEL, "2")]
    result = compare(base, cand)
    assert result.pairing == ("compute",)
    assert [(r.key["compute"], r.baseline_runs, r.candidate_runs) for r in result.rows] == [
        ("CPU", (1,), (3,)),
        (GPU_LABEL, (2,), (4,)),
    ]
    assert result.unmatched == ()


def test_a_gpu_row_without_a_gpu_counterpart_is_unpaired_and_says_why() -> None:
    base = [sample(1, 50.0, "CPU", "1"), sample(2, 100.0, GPU_LABEL, "1")]
    cand = [sample(3, 49.0, "CPU", "2"), sample(4, 48.0, "CPU", "2")]
    result = compare(base, cand)
    assert [(r.baseline_runs, r.candidate_runs) for r in result.rows] == [((1,), (3, 4))]
    (unpaired,) = result.unmatched
    assert (unpaired.side, unpaired.runs) == ("baseline", (2,))
    assert unpaired.why == f"the candidate has no run with compute {GPU_LABEL}"
