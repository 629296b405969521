"""Stored runs that a report must show as they are: every string field hostile HTML, the
fields a server may leave unknown set to None, turns of several conversations. Written
through the real Store API.

`hostile(field)` is markup that runs script if a page interprets it: it names the field, so
a test can say which field leaked, and shows literally when escaped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from melt.store import Store
from melt.store.samples import add_samples
from melt.traces.sample import Provenance, Sample

S = 1_000_000_000


def hostile(field: str) -> str:
    """HTML that sets `window.__xss` (and the page title) if any part of it runs."""
    run = f"window.__xss='{field}';document.title='pwned'"
    return f'{field}"\'><img src=x onerror="{run}"><script>{run}</script>&amp;'


def plain(field: str) -> str:
    return field


@dataclass(frozen=True, slots=True)
class Turn:
    conversation: int
    turn: int
    prompt_tokens: int | None
    evaluated: int | None
    ttft_s: float
    decode_tok_per_s: float
    generated: int = 9


def conversations(n: int, turns: int, slowest: Turn | None = None) -> list[Turn]:
    """`n` conversations of `turns` turns whose context grows 100 tokens a turn and whose
    decode rate falls with it; `slowest` appended when given."""
    found = [
        Turn(c, k, 100 * (k + 1), 100, 0.1 + 0.02 * k, 120.0 - 10 * k)
        for c in range(n)
        for k in range(turns)
    ]
    return found + ([slowest] if slowest else [])


def add_run(
    store: Store,
    experiment_id: int,
    turns: Sequence[Turn],
    text: Callable[[str], str] = plain,
    sha: str = "a",
    unknown: bool = False,
    bandwidth: bool = False,
    with_samples: bool = False,
    energy: bool = False,
) -> int:
    """A completed run whose every string comes from `text(field name)`; `unknown` leaves
    every nullable run and turn field None, as an OpenAI server that reports no cached
    tokens (and no thread count or context size) does."""
    facts: dict[str, object] = {"host": text("host"), "cpu_model": text("cpu_model")}
    if bandwidth:
        facts["memory_bandwidth"] = {"bytes_per_s": 2e10, "method": text("bandwidth_method")}
    env = store.environment_id(facts)
    run_id = store.create_run(
        experiment_id=experiment_id,
        environment_id=env,
        repeat_index=0,
        device=text("device"),
        framework=text("framework"),
        framework_version=text("framework_version"),
        model_name=text("model_name"),
        model_path=text("model_path"),
        model_sha256=sha * 64,
        model_quant=text("model_quant"),
        model_size_bytes=100_000_000,
        model_source=text("model_source"),
        workload_name=text("workload_name"),
        workload_sha256="c" * 64,
        workload_conversations=1,
        threads=None if unknown else 1,
        ctx=None if unknown else 2048,
        batch=None if unknown else 512,
        max_new_tokens=None if unknown else 9,
        seed=None if unknown else 0,
        warmup_turns=None if unknown else 0,
        settings={text("settings_key"): text("settings_value"), "notes": text("notes")},
    )
    for i, t in enumerate(turns):
        submit = 10 * i * S
        first = submit + int(t.ttft_s * S)
        tokens = [first + int(k * S / t.decode_tok_per_s) for k in range(t.generated)]
        decode_s = (tokens[-1] - tokens[0]) / S
        store.add_turn(
            run_id,
            tokens,
            conversation_index=t.conversation,
            conversation_id=text("conversation_id"),
            turn_index=t.turn,
            warmup=False,
            wall_anchor_ns=0,
            submit_ns=submit,
            prefill_start_ns=submit,
            prefill_done_ns=first,
            first_token_ns=first,
            last_token_ns=tokens[-1],
            end_ns=tokens[-1],
            prompt_tokens=None if unknown else t.prompt_tokens,
            prompt_tokens_evaluated=None if unknown else t.evaluated,
            prompt_tokens_reused=None if unknown else (t.prompt_tokens or 0) - (t.evaluated or 0),
            generated_tokens=t.generated,
            stop_reason=text("stop_reason"),
            history_turns_dropped=0,
            ttft_s=t.ttft_s,
            prefill_s=t.ttft_s,
            prefill_tok_per_s=None if unknown else (t.evaluated or 0) / t.ttft_s,
            decode_s=decode_s,
            decode_tok_per_s=(t.generated - 1) / decode_s,
            e2e_s=(tokens[-1] - submit) / S,
            output_text=text("output_text") + " word" * 5,
        )
    if with_samples:
        end = 20 * len(turns)
        add_samples(
            store,
            run_id,
            [
                Sample(k * S // 2, text("probe"), text("channel"), 40.0 + k % 7, "%")
                for k in range(end)
            ]
            + [Sample(k * S // 2, "thermal", text("zone"), 45.0 + k / 10, "°C") for k in range(end)]
            + [
                Sample(k * S // 2, "power_model", "power", 3.0, "W", Provenance.ESTIMATED)
                for k in range(end)
            ],
        )
    signals = None
    if energy:
        signals = {
            "energy": {
                "j_per_generated_token": {"median": 0.05},
                "j_per_prompt_token": {"median": 0.01},
                "provenance": "estimated",
                "source": text("power_model_source"),
            },
            "thermal": {},
        }
    store.finish_run(
        run_id,
        "completed",
        error=text("error"),
        summary={"aggregates": {}, "signals": signals},
    )
    return run_id
