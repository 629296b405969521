from dataclasses import replace

from melt.metrics.consistency import decode_consistency
from melt.metrics.run import MeasuredTurn, aggregate_turns
from melt.metrics.turn import turn_metrics
from melt.traces import EngineTimers, TurnTrace

MS = 1_000_000


def trace(
    tokens: int, step_ms: int, engine_ms: float, sample_ms: float = 0.0, warmup: bool = False
) -> TurnTrace:
    return TurnTrace(
        conversation_index=0,
        turn_index=0,
        warmup=warmup,
        wall_anchor_ns=0,
        submit_ns=0,
        prefill_start_ns=0,
        prefill_done_ns=10 * MS,
        token_ns=tuple(10 * MS + i * step_ms * MS for i in range(tokens)),
        end_ns=10 * MS + tokens * step_ms * MS,
        prompt_tokens=20,
        prompt_tokens_evaluated=20,
        prompt_tokens_reused=0,
        stop_reason="max_new_tokens",
        engine=EngineTimers(
            prefill_ms=10.0,
            prefill_tokens=20,
            decode_ms=engine_ms,
            decode_tokens=tokens - 1,
            sample_ms=sample_ms,
            sample_tokens=tokens,
        ),
    )


def test_pooled_rates_and_relative_difference() -> None:
    # Ours: (11 − 1 + 21 − 1) steps over (10 × 10 + 20 × 10) ms = 30 / 0.3 s = 100 tok/s.
    # Engine: eval 97 ms / 10 steps and 193 ms / 20 steps, no sampling time:
    # 30 steps in 290 ms = 103.448 tok/s.
    result = decode_consistency([trace(11, 10, 97.0), trace(21, 10, 193.0)])
    assert result is not None
    assert abs(result.timestamps_tok_per_s - 100.0) < 1e-9
    assert abs(result.engine_tok_per_s - 30 / 0.29) < 1e-9
    assert abs(result.relative_diff - (100.0 - 30 / 0.29) / (30 / 0.29)) < 1e-12
    assert result.suspicious  # −3.33 % is beyond the 3 % warning line


def test_sampling_time_counts_per_step() -> None:
    # 11 tokens: 10 eval steps in 95 ms, 11 samples in 5.5 ms → 0.5 ms per step.
    # Engine step = 9.5 + 0.5 = 10 ms → 100 tok/s, exactly our 10 ms spacing.
    result = decode_consistency([trace(11, 10, 95.0, sample_ms=5.5)])
    assert result is not None
    assert abs(result.engine_tok_per_s - 100.0) < 1e-9
    assert abs(result.engine_decode_only_tok_per_s - 10 / 0.095) < 1e-9
    assert abs(result.relative_diff) < 1e-12 and not result.suspicious


def test_small_difference_is_not_suspicious() -> None:
    result = decode_consistency([trace(11, 10, 99.0)])  # 100 vs 101.01 tok/s: −1 %
    assert result is not None and not result.suspicious


def test_turns_without_decode_are_ignored() -> None:
    assert decode_consistency([trace(1, 10, 0.0)]) is None


def test_warmup_turns_are_not_aggregated() -> None:
    turns = [
        MeasuredTurn(turn_metrics(t), 20, 0, t.generated_tokens, t.warmup)
        for t in (trace(11, 10, 97.0, warmup=True), trace(11, 20, 190.0))
    ]
    agg = aggregate_turns(turns)
    assert agg.turns == 1
    assert agg.generated_tokens == 11
    assert agg.decode_tok_per_s.median == 50.0  # only the 20 ms/token turn counts


def test_an_unknown_count_makes_the_total_unknown() -> None:
    t = trace(11, 10, 97.0)
    turns = [
        MeasuredTurn(turn_metrics(t), 20, 5, t.generated_tokens, False),
        MeasuredTurn(turn_metrics(t), None, None, t.generated_tokens, False),
    ]
    agg = aggregate_turns(turns)
    assert agg.prompt_tokens_evaluated is None and agg.prompt_tokens_reused is None
    assert agg.generated_tokens == 22
    known = aggregate_turns(turns[:1] * 2)
    assert (known.prompt_tokens_evaluated, known.prompt_tokens_reused) == (40, 10)


def test_a_server_without_timers_is_not_compared() -> None:
    t = trace(11, 10, 97.0)
    no_timers = replace(t, engine=EngineTimers(None, None, None, None, raw={"source": "usage"}))
    assert decode_consistency([no_timers]) is None
