"""llama.cpp timing blocks: keyed by turn from the start; SIGINT reprints are not turns."""

from pathlib import Path

import pytest

from melt.traces.importers import read

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "melt" / "llamacpp"


def test_blocks_become_turns_in_file_order_and_the_sigint_block_shifts_nothing() -> None:
    result = read(FIXTURES / "timings_sigint.log")
    (run,) = result.runs
    assert result.format == "llamacpp-log"
    assert [t.prompt_tokens for t in run.turns] == [51, 10, 6]
    assert [t.generated_tokens for t in run.turns] == [21, 41, 11]
    assert [t.prefill_ms for t in run.turns] == [2501.52, 400.0, 300.0]
    assert [t.total_ms for t in run.turns] == [3600.0, 2450.0, 850.0]
    assert run.turns[0].prefill_tok_per_s == pytest.approx(51 / 2.50152)
    assert [t.decode_tok_per_s for t in run.turns] == pytest.approx([20.0, 20.0, 20.0])
    assert run.turns[1].counters["sample_n"] == 41.0
    assert run.notes == ["line 33: timing block printed on SIGINT, not a turn"]


def test_a_broken_timing_line_is_reported_with_its_line_number() -> None:
    result = read(FIXTURES / "timings_sigint.log")
    assert [(m.line, m.reason) for m in result.malformed] == [
        (30, "unreadable llama.cpp timing line")
    ]


def test_a_real_llama_perf_context_print_log_of_the_bundled_model() -> None:
    result = read(FIXTURES / "smollm2_real_perf.log")
    (run,) = result.runs
    assert result.malformed == []
    assert [t.prompt_tokens for t in run.turns] == [5, 3]
    assert [t.decode_steps for t in run.turns] == [7, 7]
    assert [t.generated_tokens for t in run.turns] == [8, 8]  # max_tokens=8 in that run
    assert [t.prefill_ms for t in run.turns] == [1905.32, 62.95]
    assert [t.decode_ms for t in run.turns] == [521.25, 397.85]
    assert run.turns[1].counters["total_n"] == 10.0
    assert run.model == "Smollm2 135M 8k Lc100K Mix1 Ep2"
    assert (run.settings["quant"], run.settings["ctx"], run.settings["batch"]) == ("Q4_1", 512, 512)


def test_the_loader_tensor_list_is_kept() -> None:
    (run,) = read(FIXTURES / "timings_sigint.log").runs
    assert run.settings["tensors"] == [
        {"name": "token_embd.weight", "type": "q4_0", "shape": "4096x32000x1x1"},
        {"name": "blk.0.attn_norm.weight", "type": "f32", "shape": "4096x1x1x1"},
    ]


def test_the_newer_sampler_prefix_joins_the_context_block(tmp_path: Path) -> None:
    log = tmp_path / "new.log"
    log.write_text(
        "llama_perf_sampler_print:    sampling time =       4.00 ms /    17 runs   (x)\n"
        "llama_perf_context_print:        load time =     100.00 ms\n"
        "llama_perf_context_print: prompt eval time =      80.00 ms /     8 tokens (x)\n"
        "llama_perf_context_print:        eval time =     160.00 ms /    16 runs   (x)\n"
        "llama_perf_context_print:       total time =     250.00 ms /    24 tokens\n"
        "llama_perf_context_print:    graphs reused =         15\n"
    )
    result = read(log)
    (turn,) = result.runs[0].turns
    assert result.malformed == [] and result.runs[0].notes == []
    assert (turn.prompt_tokens, turn.generated_tokens, turn.total_ms) == (8, 17, 250.0)
    assert turn.counters["sample_ms"] == 4.0
    assert turn.decode_tok_per_s == pytest.approx(100.0)
