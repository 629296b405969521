"""`melt eval --perplexity --device NAME`: the perplexity and KL divergence of the llama.cpp
build a device runs (its own llama-perplexity, on the device), against the controller's
reference (melt's in-process scoring of the reference variant).

melt scores the reference's wiki.utf8 windows on the controller (`accuracy/perplexity.py`'s
windows, `Scorer.token_logprobs`) and writes them as llama-perplexity's base file
(`accuracy/kld_base.py`); the file and each variant are put on the device, and the device's
llama-perplexity (`execution/tools.py`: the build beside its llama-server) scores each variant
against it. Each figure is stored as a score of that runtime: the binary's sha256, path and
the device are in the score's settings.
"""

from __future__ import annotations

import math
import posixpath
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from melt.accuracy.evaluate import EvalSettings, most_precise, store_text
from melt.accuracy.kld_base import write_kld_base
from melt.accuracy.llama_perplexity import TOOL, DeviceText, kld_argv, parse_kld_output
from melt.accuracy.perplexity import TEXT_NAME, first_scored, target_nll, token_windows, wiki_tokens
from melt.accuracy.scorer import Scorer
from melt.devices.base import Device, DeviceError
from melt.devices.deploy import ensure_file, ensure_model, file_sha256
from melt.execution.tools import PlacedTool, place_tool, tool_path
from melt.frameworks import FrameworkOptions
from melt.models import Artifact
from melt.store import Store

PERPLEXITY_TIMEOUT_S = 3600.0
Progress = Callable[[str, int, int], None]


def device_perplexity(
    device: Device,
    artifacts: Sequence[Artifact],
    settings: EvalSettings,
    store: Store,
    progress: Progress,
) -> list[DeviceText]:
    """Score every variant with the device's llama-perplexity against the controller's
    reference (the most precise variant, or the only one: then the divergence is the
    device build's numerics against melt's on the same file)."""
    facts = device.facts()
    path = tool_path(
        TOOL, "llama.cpp", FrameworkOptions(), facts, device.on_controller, device.name
    )
    tool = place_tool(device, TOOL, path)
    reference = most_precise(artifacts)
    version = _version(device, tool)
    with tempfile.TemporaryDirectory(prefix="melt-kld-") as folder:
        local = Path(folder) / "reference.kld"
        progress(f"reference {reference.quant} on the controller", 0, 1)
        windows, reference_ppl = _write_reference(local, reference, settings)
        progress(f"reference {reference.quant} on the controller", 1, 1)
        base = _put_base(device, local)
        out = []
        for index, artifact in enumerate(artifacts):
            progress(f"{TOOL} on {device.name}", index, len(artifacts))
            model = ensure_model(device, artifact.path, artifact.sha256).path
            argv = kld_argv(tool.path, model, base, settings.ppl_window_tokens, settings.threads)
            result = device.run(argv, timeout=PERPLEXITY_TIMEOUT_S)
            output = result.stdout + result.stderr
            if not result.ok:
                tail = " | ".join(output.strip().splitlines()[-3:])
                raise DeviceError(
                    f"{device.name}: {TOOL} exited with code {result.returncode}: {tail}"
                )
            scores = parse_kld_output(
                output, len(windows), settings.ppl_window_tokens, reference.sha256
            )
            text = DeviceText(
                artifact, scores, reference, reference_ppl, device.name, tool.path, tool.sha256
            )
            _store(store, text, settings, version, argv)
            out.append(text)
        progress(f"{TOOL} on {device.name}", len(artifacts), len(artifacts))
    return out


def _write_reference(
    path: Path, reference: Artifact, settings: EvalSettings
) -> tuple[list[list[int]], float]:
    """The reference's windows scored by melt, written as the base file; its perplexity."""
    window = settings.ppl_window_tokens
    ctx = max(settings.ctx, window)
    with Scorer(reference, threads=settings.threads, ctx=ctx, batch=settings.batch) as scorer:
        windows = token_windows(
            wiki_tokens(scorer, settings.ppl_tokens), window, settings.ppl_tokens
        )
        nll: list[np.ndarray] = []

        def rows() -> Iterator[np.ndarray]:
            start = first_scored(window)
            for tokens in windows:
                scored = [scorer.bos, *tokens[1:]] if scorer.vocab.add_bos else tokens
                block = scorer.token_logprobs(scored, start)
                nll.append(target_nll(block, scored[start:]))
                yield block

        write_kld_base(path, window, scorer.n_vocab, windows, rows())
    return windows, math.exp(float(np.concatenate(nll).mean()))


def _put_base(device: Device, local: Path) -> str:
    """The base file on the device, by content (the local device reads it where it is; it
    is gone with its folder once the variants are scored)."""
    if device.on_controller:
        return str(local)
    sha256 = file_sha256(local)
    remote = posixpath.join(device.workdir(), "kld", f"{sha256}.kld")
    return ensure_file(device, local, remote, sha256).path


def _version(device: Device, tool: PlacedTool) -> str:
    result = device.run([tool.path, "--version"], timeout=60)
    lines = [ln for ln in (result.stdout + result.stderr).splitlines() if ln.startswith("version:")]
    return f"{TOOL} {lines[0].removeprefix('version:').strip()}" if lines else TOOL


def _store(
    store: Store, text: DeviceText, settings: EvalSettings, version: str, argv: list[str]
) -> None:
    a = text.artifact
    base = {
        "model_name": a.name,
        "model_sha256": a.sha256,
        "model_quant": a.quant,
        "model_path": str(a.path),
        "framework": "llama.cpp",
        "framework_version": version,
        "settings": {
            "threads": settings.threads,
            "device": text.device,
            "runtime": {"tool": TOOL, "path": text.tool_path, "sha256": text.tool_sha256},
            "reference": {"where": "controller (melt)", "perplexity": text.reference_perplexity},
            "argv": argv,
        },
    }
    task = f"{TEXT_NAME} by {TOOL} on {text.device}"  # apart from melt's own wiki.utf8 scores
    store_text(store, base, text.scores.perplexity, text.scores.divergence, task)
