"""llama.cpp's `llama-bench` beside a run: its command line at the run's settings and shape,
and its JSON rows, taken only once their token counts are the ones it was asked for.

llama-bench has no context-size flag (its context is exactly the tokens of a test), so `ctx`
has nothing to match; every other setting a run shares with it is given explicitly, with the
run's defaults written out, so its row records them and a difference can be read, not
assumed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from melt.config import RunSettings
from melt.errors import MeltError

TOOL = "llama-bench"
REPETITIONS = 3


@dataclass(frozen=True, slots=True)
class BenchShape:
    """What one llama-bench call measures: a prefill of `prompt_tokens` and a decode of
    `gen_tokens`, both after `depth_tokens` already in the KV cache, `repetitions` times."""

    prompt_tokens: int
    gen_tokens: int
    depth_tokens: int
    repetitions: int = REPETITIONS

    def tests(self) -> set[tuple[int, int, int]]:
        """The (n_prompt, n_gen, n_depth) of each test llama-bench runs for this shape."""
        wanted = {
            (self.prompt_tokens, 0, self.depth_tokens),
            (0, self.gen_tokens, self.depth_tokens),
        }
        return {t for t in wanted if t[0] or t[1]}


@dataclass(frozen=True, slots=True)
class ToolRow:
    """One llama-bench test: its name as llama-bench prints it (`pp32 @ d64`), its counts,
    its mean rate and spread over the repetitions (tok/s), and the whole JSON row."""

    test: str
    n_prompt: int
    n_gen: int
    n_depth: int
    avg_tok_per_s: float
    stddev_tok_per_s: float
    row: Mapping[str, Any]

    def as_columns(self) -> dict[str, Any]:
        """The `tool_rows` columns of this row (besides run, tool and argv)."""
        return {
            "test": self.test,
            "n_prompt": self.n_prompt,
            "n_gen": self.n_gen,
            "n_depth": self.n_depth,
            "avg_tok_per_s": self.avg_tok_per_s,
            "stddev_tok_per_s": self.stddev_tok_per_s,
            "row": dict(self.row),
        }


def gpu_layers(settings: RunSettings) -> int:
    """The run's layers offloaded to an accelerator, read generically from its engine
    settings (0 where the framework has no such knob: a CPU run)."""
    for name in ("gpu_layers", "n_gpu_layers"):
        value = getattr(settings.engine, name, None)
        if value is not None:
            return int(value)
    return 0


def bench_argv(binary: str, model: str, settings: RunSettings, shape: BenchShape) -> list[str]:
    """llama-bench's command line for a run's settings and the shape of its turns."""
    knobs = settings.engine
    affinity = ["-C", knobs.cpu_mask] if getattr(knobs, "cpu_mask", None) else []
    return [
        binary, "-m", model,
        "-t", str(settings.threads),
        "-b", str(settings.batch), "-ub", str(settings.batch),
        "-fa", knobs.flash_attn, "-ctk", knobs.cache_type_k, "-ctv", knobs.cache_type_v,
        "-ngl", str(gpu_layers(settings)),
        *affinity, "--cpu-strict", "1" if knobs.cpu_strict else "0", "--poll", str(knobs.poll),
        "-lm", "mmap" if knobs.mmap else "none",
        "-p", str(shape.prompt_tokens), "-n", str(shape.gen_tokens), "-d", str(shape.depth_tokens),
        "-r", str(shape.repetitions), "-o", "json",
    ]  # fmt: skip


def test_name(n_prompt: int, n_gen: int, n_depth: int) -> str:
    """A test's name as llama-bench's markdown table prints it."""
    name = f"pp{n_prompt}" if n_prompt else f"tg{n_gen}"
    return f"{name} @ d{n_depth}" if n_depth else name


def parse_rows(text: str, shape: BenchShape) -> list[ToolRow]:
    """llama-bench's `-o json` output as rows, each checked against `shape`: a row whose
    counts are not a test it was asked for, or an asked test with no row, is refused with the
    counts both ways (its rate would be of another measurement)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MeltError(
            f"{TOOL} printed no JSON document ({exc}); its output: {text[-300:]!r}"
        ) from None
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise MeltError(f"{TOOL} printed JSON that is not a list of rows: {text[-300:]!r}")
    asked = shape.tests()
    rows: list[ToolRow] = []
    for raw in data:
        counts = tuple(int(raw.get(k, -1)) for k in ("n_prompt", "n_gen", "n_depth"))
        if counts not in asked:
            raise MeltError(
                f"{TOOL} answered a test of n_prompt={counts[0]}, n_gen={counts[1]}, "
                f"n_depth={counts[2]} where it was asked for {_describe(asked)}: its figures "
                f"are not used"
            )
        rows.append(
            ToolRow(
                test=test_name(*counts),
                n_prompt=counts[0],
                n_gen=counts[1],
                n_depth=counts[2],
                avg_tok_per_s=float(raw["avg_ts"]),
                stddev_tok_per_s=float(raw.get("stddev_ts", 0.0)),
                row=raw,
            )
        )
    missing = asked - {(r.n_prompt, r.n_gen, r.n_depth) for r in rows}
    if missing:
        raise MeltError(f"{TOOL} printed no row for {_describe(missing)}")
    return rows


def _describe(tests: Sequence[tuple[int, int, int]] | set[tuple[int, int, int]]) -> str:
    return ", ".join(
        f"n_prompt={p}, n_gen={g}, n_depth={d}" for p, g, d in sorted(tests, reverse=True)
    )
