"""`melt eval --perplexity --device board` on the loopback SSH board: the board's
llama-perplexity (beside the inventory's `llama_server:`) is pushed there with the model and
melt's reference base file, scores the variant on the board, and the figures are stored as
scores of that binary on that device."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from melt.devices.deploy import file_sha256

PPL = ["--perplexity", "--ppl-ctx", "128", "--ppl-tokens", "256", "--threads", "1"]


def test_llama_perplexity_runs_on_the_board_against_melts_reference(
    melt: Callable[..., Any],
    inventory: Callable[..., Path],
    tmp_path: Path,
    llama_server_binary: Path,
) -> None:
    devices = inventory(llama_server=str(llama_server_binary))
    db = tmp_path / "m.db"
    result = melt(
        "eval", *PPL, "--device", "board", "--devices", str(devices), "--store", str(db), "--json"
    )
    assert result.code == 0, result.err
    (scored,) = json.loads(result.out)["variants"]
    tool = llama_server_binary.with_name("llama-perplexity")
    workdir = str(tmp_path / "device-workdir")
    assert scored["runtime"]["path"].startswith(workdir)  # pushed to the board
    assert scored["runtime"]["sha256"] == file_sha256(tool)
    # the same llama.cpp on the same file: melt's reference, to the base file's rounding
    assert f"{scored['perplexity']:.3f}" == f"{scored['reference_perplexity_controller']:.3f}"
    assert scored["kld_nats"] < 1e-4
    with sqlite3.connect(db) as conn:
        rows = conn.execute("select task, metric, settings from scores").fetchall()
    assert {(task, metric) for task, metric, _ in rows} == {
        ("wiki.utf8 by llama-perplexity on board", m)
        for m in ("perplexity", "kld", "top1_agreement")
    }
    settings = json.loads(rows[0][2])
    argv = settings["argv"]
    assert argv[argv.index("--kl-divergence-base") + 1].startswith(f"{workdir}/kld/")
    assert argv[argv.index("-m") + 1].startswith(f"{workdir}/models/")
    assert settings["device"] == "board"
