from melt.metrics.turn import turn_metrics
from melt.traces import TurnTrace

MS = 1_000_000


def trace(**overrides: object) -> TurnTrace:
    fields: dict[str, object] = dict(
        conversation_index=0,
        turn_index=0,
        warmup=False,
        wall_anchor_ns=0,
        submit_ns=1000 * MS,
        prefill_start_ns=1010 * MS,
        prefill_done_ns=1210 * MS,
        token_ns=(1220 * MS, 1240 * MS, 1260 * MS, 1280 * MS, 1300 * MS),
        end_ns=1305 * MS,
        prompt_tokens=150,
        prompt_tokens_evaluated=100,
        prompt_tokens_reused=50,
        stop_reason="eog",
        cpu_time_ns=500 * MS,
    )
    fields.update(overrides)
    return TurnTrace(**fields)  # type: ignore[arg-type]


def test_definitions_on_a_hand_made_trace() -> None:
    m = turn_metrics(trace())
    assert m.ttft_s == 0.22  # 1220 ms − 1000 ms
    assert m.prefill_s == 0.2  # 1210 − 1010 ms
    assert m.prefill_tok_per_s == 500.0  # 100 evaluated tokens / 0.2 s (reused ones are free)
    assert m.decode_s == 0.08  # 1300 − 1220 ms
    assert m.decode_tok_per_s == 50.0  # (5 − 1) tokens / 0.08 s
    assert m.e2e_s == 0.305
    assert m.cpu_time_s == 0.5


def test_one_token_has_no_decode_rate() -> None:
    m = turn_metrics(trace(token_ns=(1220 * MS,)))
    assert m.decode_tok_per_s is None
    assert m.decode_s is None
    assert m.ttft_s == 0.22


def test_prefill_falls_back_to_submit_and_first_token() -> None:
    m = turn_metrics(trace(prefill_start_ns=None, prefill_done_ns=None))
    assert m.prefill_s == 0.22  # submit → first token
    assert abs(m.prefill_tok_per_s - 100 / 0.22) < 1e-9


def test_no_tokens_means_no_ttft() -> None:
    m = turn_metrics(trace(token_ns=(), prefill_done_ns=None))
    assert m.ttft_s is None
    assert m.prefill_s is None


def test_unknown_prompt_counts_give_no_prefill_rate() -> None:
    """A server that does not say how many prompt tokens it evaluated: no rate is guessed."""
    m = turn_metrics(
        trace(prompt_tokens=None, prompt_tokens_evaluated=None, prompt_tokens_reused=None)
    )
    assert m.prefill_tok_per_s is None
    assert m.prefill_s == 0.2
    assert m.decode_tok_per_s == 50.0
