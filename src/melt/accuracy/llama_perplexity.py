"""llama.cpp's `llama-perplexity` in KL-divergence mode: its command line over a base file
(`accuracy/kld_base.py`) and its printed statistics, taken only when it scored the windows it
was given."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from melt.accuracy.perplexity import TEXT_NAME, Divergence, Perplexity, scored_per_window
from melt.accuracy.scorer import MICRO_BATCH
from melt.errors import MeltError
from melt.models import Artifact

TOOL = "llama-perplexity"
_NUMBER = r"([-+]?[\d.]+(?:e[-+]?\d+)?)"


def kld_argv(binary: str, model: str, base: str, window_tokens: int, threads: int) -> list[str]:
    """The variant scored against the base's windows with melt's micro-batch (see
    tests/accuracy/test_llama_perplexity.py for why `-ub` matters to the last digits)."""
    return [
        binary, "-m", model, "--kl-divergence-base", base, "--kl-divergence",
        "-c", str(window_tokens), "-b", str(window_tokens), "-ub", str(MICRO_BATCH),
        "-t", str(threads),
    ]  # fmt: skip


@dataclass(frozen=True, slots=True)
class ToolText:
    """What llama-perplexity printed: the variant's perplexity and its divergence from the
    base (whose own perplexity, from the base file, it prints too)."""

    perplexity: Perplexity
    divergence: Divergence
    base_perplexity: float


@dataclass(frozen=True, slots=True)
class DeviceText:
    """One variant scored by a device's llama-perplexity, beside the controller's reference
    figure, and the binary that scored it."""

    artifact: Artifact
    scores: ToolText
    reference: Artifact
    reference_perplexity: float  # melt's, on the controller
    device: str
    tool_path: str
    tool_sha256: str


def parse_kld_output(
    output: str, windows: int, window_tokens: int, reference_sha256: str
) -> ToolText:
    """llama-perplexity's statistics; refused unless it computed over `windows` chunks of
    `window_tokens` (a figure over other windows is another measurement)."""
    said = re.search(r"computing over (\d+) chunks, n_ctx=(\d+)", output)
    if said is None or (int(said.group(1)), int(said.group(2))) != (windows, window_tokens):
        counted = "nothing" if said is None else f"{said.group(1)} chunks of {said.group(2)}"
        raise MeltError(
            f"{TOOL} computed over {counted} where it was given {windows} windows of "
            f"{window_tokens} tokens: its figures are not used; its output ends: "
            f"{' | '.join(output.strip().splitlines()[-3:])}"
        )
    ppl, ppl_err = _pair(r"Mean PPL\(Q\)\s*:", output)
    base, _ = _pair(r"Mean PPL\(base\)\s*:", output)
    kld, kld_err = _pair(r"Mean\s+KLD:", output)
    top1, _ = _pair(r"Same top p:", output)
    tokens = windows * scored_per_window(window_tokens)
    return ToolText(
        perplexity=Perplexity(
            text=TEXT_NAME,
            value=ppl,
            stderr=ppl_err,
            nll_nats_per_token=math.log(ppl),
            tokens_scored=tokens,
            windows=windows,
            window_tokens=window_tokens,
        ),
        divergence=Divergence(
            reference_sha256=reference_sha256,
            kld_nats_mean=kld,
            kld_nats_stderr=kld_err,
            top1_agreement=top1 / 100,
            tokens_scored=tokens,
        ),
        base_perplexity=base,
    )


def _pair(label: str, output: str) -> tuple[float, float]:
    found = re.search(rf"{label}\s*{_NUMBER}\s*±\s*{_NUMBER}", output)
    if found is None:
        raise MeltError(f"{TOOL} printed no '{label.replace(chr(92), '')}' line")
    return float(found.group(1)), float(found.group(2))
