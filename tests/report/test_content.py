"""Report content from hand-made stores: rates both ways, QoE numbers, bandwidth provenance."""

from pathlib import Path

from tests.report.stores import add_run, sweep_store

from melt.metrics.roofline import KvShape, roofline
from melt.report.bounds import weights_bandwidth as bandwidth_of
from melt.report.content import build_report, pareto_rows


def test_rates_are_given_both_ways_and_qoe_uses_measured_tokens_per_word(tmp_path: Path) -> None:
    store = sweep_store(tmp_path / "s.db")
    content = build_report(store, [store.run(1)], reading_wpm=240.0)
    (view,) = content.runs
    decode = view.rates["decode_tok_per_s"]
    assert abs(decode.per_turn.median - 100.0) < 0.05
    # pooled: 5 × 8 steps over Σ 8/r seconds
    expected = 40 / sum(8 / r for r in (100, 102, 98, 101, 99))
    assert abs(decode.pooled - expected) < 0.05
    reading = next(q for q in view.qoe if q.check == "reading")
    # 240 wpm = 4 words/s × 1.5 tokens/word = 6 tok/s needed
    assert reading.ok and "6.0 tok/s needed" in reading.detail
    ttft = next(q for q in view.qoe if q.check == "responsiveness")
    assert ttft.value == 0.2 and "under 1 s" in ttft.verdict
    assert next(q for q in view.qoe if q.check == "battery").ok is None


def test_a_spread_run_is_flagged_and_its_outlier_reported_not_dropped(tmp_path: Path) -> None:
    store = sweep_store(tmp_path / "s.db")
    exp = store.create_experiment("spread", "x", {})
    run = add_run(store, exp, [100, 101, 99, 100, 30], [0.2, 0.2, 0.2, 0.2, 0.2])
    (view,) = build_report(store, [store.run(run)]).runs
    assert view.flagged_cv
    found = view.outliers["decode_tok_per_s"]
    assert found.indices == (4,) and found.rule == "Tukey 1.5×IQR"
    assert view.rates["decode_tok_per_s"].per_turn.n == 5


def test_bandwidth_comes_from_the_recorded_fact_else_unknown_and_is_never_measured() -> None:
    fact = {"memory_bandwidth": {"bytes_per_s": 2e10, "method": "stream triad"}}
    run = {"device": "phone", "environment": {"facts": fact, "host": "x"}}
    got = bandwidth_of(run)
    assert got.bytes_per_s == 2e10 and got.says.endswith(": stream triad")
    import socket

    local = {"device": "local", "environment": {"facts": {}, "host": socket.gethostname()}}
    got = bandwidth_of(local)  # the report measures nothing, even on the run's own host
    assert got.bytes_per_s is None and "melt devices probe local" in got.says


def test_roofline_known_answer() -> None:
    kv = KvShape(n_layer=30, n_head_kv=3, head_dim=64)  # SmolLM2-135M
    assert kv.bytes_per_token == 2 * 30 * 3 * 64 * 2
    r = roofline(50.0, 1000.0, 100_000_000, kv, 1e10, "fact")
    assert r.bound_tok_per_s == 1e10 / (100_000_000 + 23_040 * 1000)
    assert abs(r.fraction_of_limit - 50.0 / r.bound_tok_per_s) < 1e-12


def test_pareto_over_the_sweep_marks_both_variants_when_they_trade_off(tmp_path: Path) -> None:
    store = sweep_store(tmp_path / "s.db")
    content = build_report(store, [store.run(1), store.run(2)])
    rows = {r["variant"]: r for r in pareto_rows(content.runs)}
    # Q4_0 is faster and smaller: it dominates Q8_0 on (decode, size)
    assert rows["tiny Q4_0"]["pareto_optimal"] and not rows["tiny Q8_0"]["pareto_optimal"]
    assert rows["tiny Q4_0"]["pareto_axes"] == "decode_tok_per_s, size_bytes"
