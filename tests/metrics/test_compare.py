"""Pairing, differences and the regression verdict on hand-made runs with known answers."""

from melt.metrics.compare import RunSample, compare, key_properties

BASE = {"device": "local", "model_sha256": "a" * 64, "quant": "Q8_0", "framework": "llama.cpp 1"}


def sample(run_id: int, decode: list[float], ttft: list[float], **props: str) -> RunSample:
    return RunSample(run_id, {**BASE, **props}, {"decode_tok_per_s": decode, "ttft_s": ttft})


def test_a_slower_candidate_is_a_regression_beyond_the_threshold() -> None:
    base = [sample(1, [100.0] * 10, [0.1] * 10)]
    cand = [sample(2, [90.0] * 10, [0.1] * 10, framework="llama.cpp 2")]
    result = compare(base, cand, threshold_pct=5.0)
    assert result.differences == {"framework": ("llama.cpp 1", "llama.cpp 2")}
    (row,) = result.rows
    by_name = {m.metric.name: m for m in row.metrics}
    decode = by_name["decode_tok_per_s"]
    assert (decode.difference.diff, decode.difference.pct_change) == (-10.0, -10.0)
    assert decode.worse_pct == 10.0 and decode.regression and decode.verdict == "REGRESSION"
    assert by_name["ttft_s"].verdict == "within noise"
    assert result.regressed


def test_a_change_inside_the_threshold_or_the_noise_is_no_regression() -> None:
    base = [sample(1, [100.0] * 10, [0.1] * 10)]
    assert not compare(base, [sample(2, [97.0] * 10, [0.1] * 10)], threshold_pct=5.0).regressed
    noisy = [sample(2, [60.0, 140.0, 70.0, 130.0, 85.0, 110.0], [0.1] * 6)]
    result = compare([sample(1, [100.0, 50.0, 150.0, 80.0, 120.0, 95.0], [0.1] * 6)], noisy, None)
    decode = next(m for m in result.rows[0].metrics if m.metric.name == "decode_tok_per_s")
    assert not decode.difference.ci_excludes_zero and not decode.regression


def test_lower_is_better_for_ttft() -> None:
    result = compare(
        [sample(1, [100.0] * 5, [0.10] * 5)], [sample(2, [100.0] * 5, [0.08] * 5)], ["ttft_s"], 5.0
    )
    (ttft,) = result.rows[0].metrics
    assert ttft.verdict == "better" and abs(ttft.worse_pct + 20.0) < 1e-9 and not result.regressed


def test_sweeps_pair_on_what_varies_and_list_the_unmatched() -> None:
    base = [sample(1, [10.0], [0.1], quant="Q8_0"), sample(2, [20.0], [0.1], quant="Q4_0")]
    cand = [sample(3, [11.0], [0.1], quant="Q8_0"), sample(4, [12.0], [0.1], quant="Q2_K")]
    result = compare(base, cand)
    assert result.pairing == ("quant",)
    assert [(r.key, r.baseline_runs, r.candidate_runs) for r in result.rows] == [
        ({"quant": "Q8_0"}, (1,), (3,))
    ]
    assert {(u.side, u.key["quant"], u.runs) for u in result.unmatched} == {
        ("baseline", "Q4_0", (2,)),
        ("candidate", "Q2_K", (4,)),
    }


def test_key_properties_of_a_stored_row_name_every_knob() -> None:
    run = {
        "device": "local",
        "environment": {"cpu_model": "Xeon"},
        "model_sha256": "b" * 64,
        "model_quant": "Q4_0",
        "framework": "llama.cpp",
        "framework_version": "0.3",
        "threads": 2,
        "ctx": None,
        "workload_name": "chat",
        "workload_sha256": "c" * 64,
        "settings": {"batch": 512, "threads": 2, "model_origin": {"path": "/x"}},
    }
    props = key_properties(run)
    assert props["device"] == "local (Xeon)" and props["ctx"] == "?"
    assert props["settings.batch"] == "512"
    assert "settings.model_origin" not in props and "settings.threads" not in props


def test_pareto_marks_the_undominated() -> None:
    from melt.metrics.compare import Better
    from melt.metrics.pareto import pareto_optimal

    # (decode tok/s higher, size lower): b dominates c; a and b trade off
    points = [(10.0, 100.0), (20.0, 200.0), (15.0, 250.0)]
    assert pareto_optimal(points, [Better.HIGHER, Better.LOWER]) == [True, True, False]
