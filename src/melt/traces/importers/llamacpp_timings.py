"""llama.cpp's timing blocks, old (`llama_print_timings:`) and new
(`llama_perf_context_print:` / `llama_perf_sampler_print:`) prefixes.

One block per prompt: ``load``, ``sample``/``sampling``, ``prompt eval``, ``eval`` and
``total`` lines, each ``<name> time = <ms> ms [/ <n> tokens|runs (...)]``. Blocks are
numbered from the start of the file, so turn k is the k-th block whatever follows it.
The sampler's line may come before or after the context's lines of its block.
A block that adds no work to the one before it (the same counters again, or no tokens at
all) is what llama.cpp prints from its SIGINT handler: it is reported as such and is not
a turn, so it never shifts the turns before it.

Generated tokens are the sampler's runs when the block has a sampler line, else the eval
runs + 1: llama.cpp samples the first token from the prompt's logits, and each "eval run"
decodes one sampled token to get the next (the same count melt's decode rate uses).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from melt.traces.importers.base import ImportedTurn, Malformed

PREFIX = re.compile(r"(llama_print_timings|llama_perf_context_print|llama_perf_sampler_print):")
TIMING = re.compile(
    r"(?P<key>[a-z ]+?) time\s*=\s*(?P<ms>\d+(?:\.\d+)?) ms"
    r"(?:\s*/\s*(?P<n>\d+) (?P<unit>tokens|runs))?"
)
COUNTER = re.compile(r"(?P<key>[a-z ]+?)\s*=\s*(?P<n>\d+)\s*$")
KEYS = {"sampling": "sample"}


@dataclass
class TimingBlock:
    first_line: int
    values_ms: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def work(self) -> tuple[int, int, float, float]:
        return (
            self.counts.get("prompt eval", 0),
            self.counts.get("eval", 0),
            self.values_ms.get("prompt eval", 0.0),
            self.values_ms.get("eval", 0.0),
        )


def parse_blocks(
    lines: Iterable[tuple[int, str]], path: str, malformed: list[Malformed]
) -> list[TimingBlock]:
    blocks: list[TimingBlock] = []
    current: TimingBlock | None = None
    for number, line in lines:
        prefix = PREFIX.search(line)
        if prefix is None:
            continue
        rest = line[prefix.end() :].strip()
        timing = TIMING.fullmatch(rest.split("(")[0].strip())
        if timing is None:
            if COUNTER.fullmatch(rest):
                continue
            malformed.append(Malformed(path, number, line, "unreadable llama.cpp timing line"))
            continue
        key = KEYS.get(timing["key"].strip(), timing["key"].strip())
        starts_context = (
            key == "load" and current is not None and set(current.values_ms) - {"sample"}
        )
        if current is None or key in current.values_ms or starts_context:
            current = TimingBlock(number)
            blocks.append(current)
        current.values_ms[key] = float(timing["ms"])
        if timing["n"] is not None:
            current.counts[key] = int(timing["n"])
    return blocks


def turns_from_blocks(blocks: list[TimingBlock]) -> tuple[list[ImportedTurn], list[int]]:
    """Turns in file order, and the first lines of blocks that were SIGINT reprints."""
    turns: list[ImportedTurn] = []
    reprints: list[int] = []
    previous: tuple[int, int, float, float] | None = None
    for block in blocks:
        work = block.work()
        if work[:2] == (0, 0) or work == previous:
            reprints.append(block.first_line)
            continue
        previous = work
        prompt_tokens, eval_runs, prompt_ms, eval_ms = work
        generated = block.counts.get("sample", eval_runs + 1)
        turns.append(
            ImportedTurn(
                index=len(turns),
                prompt_tokens=prompt_tokens,
                generated_tokens=generated,
                decode_steps=eval_runs,
                prefill_ms=prompt_ms if "prompt eval" in block.values_ms else None,
                decode_ms=eval_ms if "eval" in block.values_ms else None,
                total_ms=block.values_ms.get("total"),
                prefill_tok_per_s=prompt_tokens / prompt_ms * 1e3 if prompt_ms > 0 else None,
                decode_tok_per_s=eval_runs / eval_ms * 1e3 if eval_ms > 0 else None,
                counters={
                    **{f"{k}_ms": v for k, v in block.values_ms.items()},
                    **{f"{k}_n": float(v) for k, v in block.counts.items()},
                },
            )
        )
    return turns, reprints
