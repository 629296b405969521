"""`melt models`: the model zoo — what is bundled and cached, what a file holds, and
quantized variants made with llama.cpp."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from melt.cli.progress import step_progress
from melt.config import default_threads
from melt.errors import MeltError
from melt.models import Artifact, resolve_model
from melt.models import cache as model_cache
from melt.models.bundled import BUNDLED
from melt.models.hf import CONVERTER, LLAMA_CPP_DIR_ENV
from melt.models.inspect import ModelInfo, inspect_gguf
from melt.models.ort_export import DEFAULT_PRECISION, ORT_FORMAT, export_ort_genai
from melt.models.quant_types import parse_quants
from melt.models.quantize import make_variant
from melt.report.console import stdout_console
from melt.report.units import fmt, fmt_bytes

app = typer.Typer(help="The model zoo: bundled and cached models.", no_args_is_help=True)

MODEL_HELP = "Bundled name, cached sha256 prefix, .gguf path, Hugging Face dir, or org/name."


LLAMA_CPP_DIR_OPTION = typer.Option(
    None,
    "--llama-cpp-dir",
    help=f"llama.cpp checkout whose {CONVERTER} converts a Hugging Face dir "
    f"(default: ${LLAMA_CPP_DIR_ENV}).",
)


def use_llama_cpp_dir(path: Path | None) -> None:
    """The flag is the environment variable for this process and the converter it starts."""
    if path is not None:
        os.environ[LLAMA_CPP_DIR_ENV] = str(path.expanduser())


def _models_document() -> dict[str, Any]:
    bundled = []
    for name, entry in sorted(BUNDLED.items()):
        try:
            art = resolve_model(name)
        except MeltError:
            bundled.append({"name": name, "installed": False, "package": entry.package})
            continue
        bundled.append(
            {
                "name": name,
                "installed": True,
                "package": entry.package,
                "quant": art.quant,
                "size_bytes": art.size_bytes,
                "sha256": art.sha256,
                "path": str(art.path),
            }
        )
    cached = [
        {
            "name": art.name,
            "quant": art.quant,
            "size_bytes": art.size_bytes,
            "sha256": art.sha256,
            "path": str(art.path),
            "format": art.format,
            "bits_per_weight": inspect_gguf(art.path).bits_per_weight
            if art.format == "gguf"
            else None,
            "origin": asdict(art.origin),
        }
        for art, _meta in model_cache.entries()
    ]
    return {"bundled": bundled, "cache_dir": str(model_cache.models_dir()), "cached": cached}


@app.command("list")
def list_models(
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Bundled models and every cached variant, with size, quantization and provenance."""
    if as_json:
        print(json.dumps(_models_document(), indent=2, default=str))
        return
    table = Table(title="Bundled", title_justify="left")
    for column in ("name", "quant", "size", "sha256", "package"):
        table.add_column(column)
    for name, bundled in sorted(BUNDLED.items()):
        try:
            art = resolve_model(name)
            table.add_row(
                name, art.quant, fmt_bytes(art.size_bytes), art.sha256[:12], bundled.package
            )
        except MeltError:
            table.add_row(name, "–", "–", "–", f"not installed ({bundled.install_hint})")
    console = stdout_console()
    console.print(table)
    cached = Table(title=f"Cached in {model_cache.models_dir()}", title_justify="left")
    for column in ("sha256", "name", "quant", "size", "bits/weight", "provenance"):
        cached.add_column(column, justify="right" if column in ("size", "bits/weight") else "left")
    for art, _meta in model_cache.entries():
        bits = inspect_gguf(art.path).bits_per_weight if art.format == "gguf" else None
        cached.add_row(
            art.sha256[:12],
            art.name,
            art.quant if art.format == "gguf" else f"{art.format} {art.quant}",
            fmt_bytes(art.size_bytes),
            fmt(bits, 2),
            art.origin.describe(),
        )
    if cached.row_count:
        console.print(cached)
    else:
        console.print("no cached variants yet ('melt models quantize NAME --to q8_0' makes one)")


def _info_document(art: Artifact, info: ModelInfo) -> dict:
    return {
        "name": art.name,
        "path": str(art.path),
        "sha256": art.sha256,
        "file_size_bytes": info.file_size_bytes,
        "file_type": info.file_type,
        "architecture": info.architecture,
        "parameters": info.parameters,
        "layers": info.layers,
        "embedding_width": info.embedding_width,
        "context_length": info.context_length,
        "vocabulary": info.vocabulary,
        "chat_template": info.chat_template,
        "add_bos_token": info.add_bos_token,
        "bits_per_weight": info.bits_per_weight,
        "tensor_types": [asdict(t) for t in info.tensor_types],
        "origin": asdict(art.origin),
    }


def _info_table(art: Artifact, info: ModelInfo) -> Table:
    table = Table(title=f"{art.name} {info.file_type}", title_justify="left", show_header=False)
    table.add_column("key")
    table.add_column("value")
    rows = (
        ("path", str(art.path)),
        ("sha256", art.sha256),
        ("file size", f"{fmt_bytes(info.file_size_bytes)} ({info.file_size_bytes} bytes)"),
        ("file type (declared)", info.file_type),
        ("tensor types (actual)", info.type_mix()),
        ("bits per weight (effective)", fmt(info.bits_per_weight, 3)),
        ("architecture", info.architecture),
        ("parameters", f"{info.parameters:,}"),
        ("layers", fmt(info.layers)),
        ("embedding width", fmt(info.embedding_width)),
        ("context length (trained)", fmt(info.context_length)),
        ("vocabulary", fmt(info.vocabulary)),
        ("chat template", "yes" if info.chat_template else "no"),
        ("add BOS token", "unset" if info.add_bos_token is None else str(info.add_bos_token)),
        ("provenance", art.origin.describe()),
    )
    for key, value in rows:
        table.add_row(key, value)
    return table


def _histogram(info: ModelInfo) -> Table:
    table = Table(title="Tensor types", title_justify="left")
    for column in ("ggml type", "tensors", "parameters", "bytes", "share of bytes", "bits/weight"):
        table.add_column(column, justify="left" if column == "ggml type" else "right")
    for t in info.tensor_types:
        table.add_row(
            t.ggml_type,
            str(t.tensors),
            f"{t.elements:,}",
            fmt_bytes(t.bytes),
            f"{100 * t.bytes / info.tensor_bytes:.1f}%",
            fmt(8 * t.bytes / t.elements, 3),
        )
    return table


@app.command("inspect")
def inspect(
    model: str = typer.Argument(..., help=MODEL_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    llama_cpp_dir: Path = LLAMA_CPP_DIR_OPTION,
) -> None:
    """Architecture, size, and the real tensor-type mix of a model file."""
    use_llama_cpp_dir(llama_cpp_dir)
    art = resolve_model(model)
    info = inspect_gguf(art.path)
    if as_json:
        print(json.dumps(_info_document(art, info), indent=2))
        return
    console = stdout_console()
    console.print(_info_table(art, info))
    console.print(_histogram(info))


@app.command("quantize")
def quantize(
    model: str = typer.Argument(..., help=MODEL_HELP),
    to: str = typer.Option(..., "--to", help="Target types, e.g. q8_0,q6_k,q4_k_m,q4_0,f16."),
    threads: int = typer.Option(None, help="Quantization threads (default: physical cores)."),
    llama_cpp_dir: Path = LLAMA_CPP_DIR_OPTION,
) -> None:
    """Make quantized variants with llama.cpp, always from the highest-precision source."""
    use_llama_cpp_dir(llama_cpp_dir)
    targets = parse_quants(to)
    art = resolve_model(model)
    n_threads = threads or default_threads()
    if n_threads < 1:
        raise MeltError(f"--threads must be at least 1 (got {n_threads})")
    table = Table(title=f"Variants of {art.name} ({art.quant}, {art.sha256[:12]})")
    for column in (
        "asked",
        "result",
        "file type",
        "tensor types (actual)",
        "size",
        "bits/weight",
        "sha256",
        "provenance",
    ):
        table.add_column(column, justify="right" if column in ("size", "bits/weight") else "left")
    with step_progress() as show:
        for target in targets:
            show(f"{target}: looking in the cache")

            def step(message: str, target: str = target) -> None:
                show(f"{target}: {message}")

            variant = make_variant(art, target, threads=n_threads, on_step=step)
            made = variant.artifact
            info = inspect_gguf(made.path)
            table.add_row(
                target,
                variant.action,
                info.file_type,
                info.type_mix(),
                fmt_bytes(made.size_bytes),
                fmt(info.bits_per_weight, 2),
                made.sha256[:12],
                Text(made.origin.describe()),
            )
    stdout_console().print(table)


EXPORT_FORMATS = (ORT_FORMAT,)


@app.command("export")
def export(
    model: str = typer.Argument(..., help=MODEL_HELP),
    to_format: str = typer.Option(
        ORT_FORMAT, "--format", help="Target format: ort-genai (ONNX Runtime GenAI folder)."
    ),
    precision: str = typer.Option(
        DEFAULT_PRECISION, help="ONNX Runtime GenAI precision: int4 (its quantizer) or fp32."
    ),
) -> None:
    """Export a model for another framework, from the highest-precision file in its lineage
    (made and cached; needs pip install 'melt-bench[convert]')."""
    if to_format not in EXPORT_FORMATS:
        raise MeltError(f"--format: unknown '{to_format}' (valid: {', '.join(EXPORT_FORMATS)})")
    art = resolve_model(model)
    with step_progress("looking in the cache") as show:
        made = export_ort_genai(art, precision, on_step=show)
    table = Table(title=f"{art.name} as {to_format} {precision}", show_header=False)
    table.add_column("key")
    table.add_column("value")
    result = made.artifact
    for key, value in (
        ("result", made.action),
        ("path", str(result.path)),
        ("sha256 (over its files)", result.sha256),
        ("size", f"{fmt_bytes(result.size_bytes)} ({result.size_bytes} bytes)"),
        ("files", ", ".join(sorted(p.name for p in result.path.iterdir()))),
        ("provenance", result.origin.describe()),
    ):
        table.add_row(key, Text(value))
    stdout_console().print(table)
