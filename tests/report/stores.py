"""Hand-made stores with known figures, written through the real Store API.

A run's turn k (0-based) of `decode` rate r: submit at 10·k s, first token after `ttft` s,
then `generated` tokens evenly spaced at 1/r s; prompt grows by 50 tokens a turn.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from melt.store import Store, open_store
from melt.store.samples import add_samples
from melt.traces.sample import Provenance, Sample

S = 1_000_000_000
FACTS = {"host": "test-host", "cpu_model": "Test CPU", "physical_cores": 2, "device": "local"}


def add_run(
    store: Store,
    experiment_id: int,
    decode: Sequence[float],
    ttft: Sequence[float],
    quant: str = "Q8_0",
    sha: str = "a",
    generated: int = 9,
    version: str = "0.3.36",
    facts: dict[str, Any] | None = None,
    device: str = "local",
    energy: dict[str, Any] | None = None,
    with_samples: bool = False,
    model_path: str = "/nonexistent/model.gguf",
    threads: int = 1,
) -> int:
    env = store.environment_id(facts or FACTS)
    run_id = store.create_run(
        experiment_id=experiment_id,
        environment_id=env,
        repeat_index=0,
        device=device,
        framework="llama.cpp",
        framework_version=version,
        model_name="tiny",
        model_path=model_path,
        model_sha256=sha * 64,
        model_quant=quant,
        model_size_bytes=100_000_000 if quant == "Q8_0" else 60_000_000,
        model_source="test",
        workload_name="chat",
        workload_sha256="c" * 64,
        workload_conversations=1,
        threads=threads,
        ctx=2048,
        batch=512,
        max_new_tokens=generated,
        seed=0,
        warmup_turns=0,
        settings={"threads": threads, "ctx": 2048, "batch": 512},
    )
    for k, (rate, first) in enumerate(zip(decode, ttft, strict=True)):
        submit = 10 * k * S
        first_ns = submit + int(first * S)
        tokens = [first_ns + int(i * S / rate) for i in range(generated)]
        decode_s = (tokens[-1] - tokens[0]) / S
        store.add_turn(
            run_id,
            tokens,
            conversation_index=0,
            conversation_id="c0",
            turn_index=k,
            warmup=False,
            wall_anchor_ns=0,
            submit_ns=submit,
            prefill_start_ns=submit,
            prefill_done_ns=first_ns,
            first_token_ns=first_ns,
            last_token_ns=tokens[-1],
            end_ns=tokens[-1],
            prompt_tokens=50 * (k + 1),
            prompt_tokens_evaluated=50,
            prompt_tokens_reused=50 * k,
            generated_tokens=generated,
            stop_reason="length",
            history_turns_dropped=0,
            ttft_s=first,
            prefill_s=first,
            prefill_tok_per_s=50 / first,
            decode_s=decode_s,
            decode_tok_per_s=(generated - 1) / decode_s,
            e2e_s=(tokens[-1] - submit) / S,
            output_text=" ".join(["word"] * 6),  # 9 tokens for 6 words: 1.5 tokens/word
        )
    if with_samples:
        end = 10 * len(decode)
        add_samples(
            store,
            run_id,
            [Sample(t * S // 2, "cpu", "cpu", 40.0 + t % 7, "%") for t in range(2 * end)]
            + [Sample(t * S // 2, "thermal", "zone0", 45.0 + t / 10, "°C") for t in range(2 * end)]
            + [
                Sample(t * S // 2, "cpu_power_model", "power", 3.0, "W", Provenance.ESTIMATED)
                for t in range(2 * end)
            ],
        )
    signals = None
    if energy is not None:
        signals = {"energy": energy, "thermal": {}}
    store.finish_run(run_id, "completed", summary={"aggregates": {}, "signals": signals})
    return run_id


def sweep_store(path: Path) -> Store:
    """Experiment 1: Q8_0 and Q4_0 variants; experiment 2: the same, a slower Q8_0."""
    store = open_store(str(path))
    one = store.create_experiment("sweep", "melt bench", {})
    add_run(store, one, [100, 102, 98, 101, 99], [0.2] * 5, "Q8_0", "a", with_samples=True)
    add_run(store, one, [150, 149, 151, 150, 152], [0.15] * 5, "Q4_0", "b")
    two = store.create_experiment("sweep", "melt bench", {})
    add_run(store, two, [90, 91, 89, 90, 92], [0.2] * 5, "Q8_0", "a", version="0.3.37")
    add_run(store, two, [150, 151, 149, 150, 151], [0.15] * 5, "Q4_0", "b", version="0.3.37")
    return store
