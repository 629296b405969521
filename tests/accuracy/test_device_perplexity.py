"""`melt eval --perplexity --device local`: the device's llama-perplexity (the build beside its
llama-server) scores the variant against melt's reference, which melt scores here and writes
as llama-perplexity's `--kl-divergence-base` file. On the same file and the same llama.cpp,
the tool's perplexity is melt's to its printed digits and the divergence is the base file's
16-bit rounding only; the figures are stored as scores of that binary."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from melt.accuracy.llama_perplexity import parse_kld_output
from melt.devices.deploy import file_sha256
from melt.errors import MeltError

PPL = ["--perplexity", "--ppl-ctx", "128", "--ppl-tokens", "256", "--threads", "1"]


def test_the_devices_llama_perplexity_scores_against_melts_reference(
    melt: Callable[..., Any], tmp_path: Path, llama_perplexity_binary: Path
) -> None:
    db = tmp_path / "m.db"
    here = melt("eval", *PPL, "--tasks", "", "--store", str(db), "--json")
    assert here.code == 0, here.err
    (variant,) = json.loads(here.out)["variants"]
    melt_ppl = variant["perplexity"]["value"]
    result = melt("eval", *PPL, "--device", "local", "--store", str(db), "--json")
    assert result.code == 0, result.err
    (scored,) = json.loads(result.out)["variants"]
    assert f"{scored['perplexity']:.4f}" == f"{melt_ppl:.4f}"  # llama-perplexity prints 4+
    assert scored["reference_perplexity_controller"] == pytest.approx(melt_ppl, rel=1e-9)
    assert scored["kld_nats"] < 1e-4 and scored["top1_agreement"] == 1.0
    assert (scored["windows"], scored["window_tokens"]) == (2, 128)
    assert scored["runtime"]["sha256"] == file_sha256(llama_perplexity_binary)
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        rows = [dict(r) for r in conn.execute("select * from scores order by id")]
    device_rows = [r for r in rows if r["task"] == "wiki.utf8 by llama-perplexity on local"]
    assert {r["metric"] for r in device_rows} == {"perplexity", "kld", "top1_agreement"}
    settings = json.loads(device_rows[0]["settings"])
    assert settings["device"] == "local"
    assert settings["runtime"] == {
        "tool": "llama-perplexity",
        "path": str(llama_perplexity_binary),
        "sha256": file_sha256(llama_perplexity_binary),
    }
    assert device_rows[0]["framework_version"].startswith("llama-perplexity ")
    assert [r for r in rows if r["task"] == "wiki.utf8"]  # melt's own scores stay apart


OUTPUT = """kl_divergence: computing over 2 chunks, n_ctx=128, batch_size=128, n_seq=1
====== Perplexity statistics ======
Mean PPL(Q)                   :  12.148506 ±   2.976021
Mean PPL(base)                :  12.148490 ±   2.976018
====== KL divergence statistics ======
Mean    KLD:   0.000001 ±   0.000001
Same top p: 100.000 ±  0.000 %
"""


def test_llama_perplexity_over_other_windows_is_refused() -> None:
    parsed = parse_kld_output(OUTPUT, 2, 128, "ab" * 32)
    assert (parsed.perplexity.value, parsed.divergence.top1_agreement) == (12.148506, 1.0)
    assert parsed.perplexity.tokens_scored == 2 * 63
    with pytest.raises(MeltError, match="computed over 2 chunks of 128 where it was given 3"):
        parse_kld_output(OUTPUT, 3, 128, "ab" * 32)
    with pytest.raises(MeltError, match="computed over nothing"):
        parse_kld_output("failed to open reference.kld", 2, 128, "ab" * 32)


@pytest.mark.parametrize(
    ("args", "said"),
    [
        ((), "--device: pass --perplexity"),
        (("--perplexity", "--tasks", "arc_easy"), "the tasks (--tasks, --output) score in melt's"),
    ],
)
def test_eval_on_a_device_is_perplexity_only(
    melt: Callable[..., Any], tmp_path: Path, args: tuple[str, ...], said: str
) -> None:
    result = melt("eval", "--device", "local", *args, "--store", str(tmp_path / "m.db"))
    assert result.code == 2
    (line,) = result.err.strip().splitlines()
    assert line.startswith("melt: error: ") and said in line
