"""The head of a report, from stored runs: what is known is said, what is not is left out
(an imported run has no device facts, knobs or warmup), never a made-up default."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from melt.report.header import header_parts

BENCHED: dict[str, Any] = {
    "device": "orin",
    "framework": "llama.cpp",
    "framework_version": "llama-cpp-python 0.3.36",
    "workload_name": "builtin:chat",
    "workload_conversations": 3,
    "warmup_turns": 1,
    "model_name": "tiny",
    "model_quant": "Q4_0",
    "model_size_bytes": 60 * 1024 * 1024,
    "model_sha256": "ab" * 32,
    "threads": 4,
    "ctx": 2048,
    "batch": 512,
    "max_new_tokens": 64,
    "seed": 0,
    "settings": {
        "workload_turns": 13,
        "sampling": {"temperature": 0.2},
        "engine": {"framework": "llama.cpp", "flash_attn": "on"},
        "model_origin": {"note": "quantized by melt"},
    },
    "environment": {
        "facts": {
            "transport": "ssh",
            "cpu_model": "Cortex-A78AE",
            "physical_cores": 8,
            "ram_bytes": 32 * 1024**3,
            "os": "Ubuntu 22.04",
        }
    },
}


def _text(runs: list[dict[str, Any]], cells: int, per_cell: int) -> str:
    console = Console(width=200, record=True)
    for part in header_parts(runs, cells, per_cell):
        console.print(part)
    return console.export_text()


def test_a_benched_cell_says_where_what_and_how() -> None:
    lines = _text([BENCHED], 1, 2).splitlines()
    assert lines[0] == (
        "llama-cpp-python 0.3.36 on device orin (ssh): Cortex-A78AE (8 cores, 32.0 GiB, "
        "Ubuntu 22.04)"
    )
    assert lines[1] == (
        "workload builtin:chat: 3 conversations, 13 turns × 2 run(s) per cell; "
        "1 warmup turn(s) per run, stored, not aggregated"
    )
    assert lines[2] == "tiny  Q4_0, 60.0 MiB, sha256 abababababab (quantized by melt)"
    assert lines[3] == (
        "threads 4, ctx 2048, batch 512, max new tokens 64, temperature 0.2, seed 0"
    )
    assert lines[4] == "llama.cpp settings: flash_attn=on"


def test_an_imported_run_says_only_what_it_has() -> None:
    imported = {
        **BENCHED,
        "warmup_turns": None,
        "threads": None,
        "settings": {"imported": {"format": "melt"}},
        "environment": {"facts": {}},
    }
    text = _text([imported], 1, 1)
    assert "on device orin (local): CPU not recorded\n" in text
    assert "workload builtin:chat: 3 conversations × 1 run(s) per cell\n" in text
    assert "threads –," in text and "temperature –" in text
    assert "settings:" not in text  # no knobs recorded, none invented


def test_several_devices_get_a_line_each_and_no_cell_lines() -> None:
    other = {**BENCHED, "device": "pixel", "environment": {"facts": {"transport": "adb"}}}
    lines = _text([BENCHED, other, BENCHED], 2, 1).splitlines()
    assert [line.split(":")[0] for line in lines[:2]] == [
        "llama-cpp-python 0.3.36 on device orin (ssh)",
        "llama-cpp-python 0.3.36 on device pixel (adb)",
    ]
    assert len([line for line in lines if line.startswith("workload ")]) == 1
    assert not any(line.startswith("threads ") for line in lines)
