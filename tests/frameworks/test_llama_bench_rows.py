"""llama-bench's JSON rows are taken only when their counts are the tests it was asked for:
checked on the real llama-bench's output (the bundled model, one thread, a few tokens)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from melt.config import RunSettings
from melt.errors import MeltError
from melt.frameworks.llamacpp.llama_bench import BenchShape, bench_argv, parse_rows
from melt.frameworks.llamacpp.settings import LlamaCppSettings
from melt.models import Artifact

SHAPE = BenchShape(prompt_tokens=6, gen_tokens=3, depth_tokens=5, repetitions=1)


@pytest.fixture(scope="module")
def output(llama_server_binary: Path, bundled: Artifact) -> str:
    """What llama-bench prints for SHAPE at a run's settings (flash attention on, q8_0 V)."""
    settings = RunSettings(
        threads=1,
        batch=64,
        engine=LlamaCppSettings(flash_attn="on", cache_type_v="q8_0"),
    )
    binary = str(llama_server_binary.with_name("llama-bench"))
    argv = bench_argv(binary, str(bundled.path), settings, SHAPE)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_the_asked_tests_are_parsed_with_the_settings_llama_bench_recorded(output: str) -> None:
    pp, tg = parse_rows(output, SHAPE)
    assert (pp.test, pp.n_prompt, pp.n_gen, pp.n_depth) == ("pp6 @ d5", 6, 0, 5)
    assert (tg.test, tg.n_prompt, tg.n_gen, tg.n_depth) == ("tg3 @ d5", 0, 3, 5)
    assert pp.avg_tok_per_s > 0 and tg.avg_tok_per_s > 0
    row = pp.row  # the run's settings reached llama-bench, as its own row records them
    assert (row["n_threads"], row["n_batch"], row["n_ubatch"]) == (1, 64, 64)
    assert (row["flash_attn"], row["type_k"], row["type_v"], row["n_gpu_layers"]) == (
        1,
        "f16",
        "q8_0",
        0,
    )


@pytest.mark.parametrize(
    ("asked", "named"),
    [
        (BenchShape(7, 3, 5), "n_prompt=6, n_gen=0, n_depth=5"),  # another prompt
        (BenchShape(6, 4, 5), "n_prompt=0, n_gen=3, n_depth=5"),  # another reply
        (BenchShape(6, 3, 0), "n_prompt=6, n_gen=0, n_depth=5"),  # another depth
    ],
)
def test_a_row_whose_counts_were_not_asked_is_refused(
    output: str, asked: BenchShape, named: str
) -> None:
    with pytest.raises(MeltError, match="figures are not used") as err:
        parse_rows(output, asked)
    assert named in str(err.value)


def test_an_asked_test_without_a_row_is_refused(output: str) -> None:
    only_prefill = json.dumps([r for r in json.loads(output) if r["n_prompt"]])
    with pytest.raises(MeltError, match=r"no row for n_prompt=0, n_gen=3, n_depth=5"):
        parse_rows(only_prefill, SHAPE)


def test_output_that_is_not_llama_benchs_json_is_one_line(output: str) -> None:
    with pytest.raises(MeltError, match="printed no JSON document"):
        parse_rows("| model | size |\n", SHAPE)
