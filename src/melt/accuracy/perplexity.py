"""wiki.utf8 perplexity, and KL divergence + top-1 agreement of a variant against a
reference variant, on the same token windows (llama-perplexity's `--kl-divergence` design).

The text is cut into non-overlapping windows of `window_tokens` tokens, scored the way
llama.cpp's llama-perplexity scores its chunks (`tools/perplexity/perplexity.cpp`): the
first half of each window (`first = n_ctx/2` tokens) is context only, and the logits of
positions `first` … `n_ctx - 2` are scored, each against the token after it. So a window of
512 scores its last 255 tokens (`n - n//2 - 1`; the first token of the second half is
context too), and every scored token sees at least half a window of context. With
`add_bos_token` the window's first token is replaced by BOS. With the same text, tokens and
window (`-c 512 -b 512 --chunks 8`), melt's perplexity and KLD equal llama-perplexity's to
its printed digits (tests/accuracy/test_llama_perplexity.py). Reference and variants are
evaluated window by window in lockstep, so the reference's log-probabilities are never
stored (all models are loaded at once).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from melt.accuracy.data import wiki_text
from melt.accuracy.scorer import Scorer
from melt.accuracy.scoring import bootstrap_stderr
from melt.errors import MeltError

TEXT_NAME = "wiki.utf8"
DEFAULT_WINDOW_TOKENS = 512
DEFAULT_TOKEN_BUDGET = 4096
MIN_WINDOW_TOKENS = 3  # a window of 3: one token of context, one more, one scored
_CHARS_PER_TOKEN_GUESS = 8  # read this many characters per wanted token before tokenizing


@dataclass(frozen=True, slots=True)
class Perplexity:
    """exp(mean negative log-likelihood in nats per scored token); `stderr` is the bootstrap
    standard error of the mean NLL carried to perplexity (ppl × se(NLL))."""

    text: str
    value: float
    stderr: float
    nll_nats_per_token: float
    tokens_scored: int
    windows: int
    window_tokens: int


@dataclass(frozen=True, slots=True)
class Divergence:
    """Mean KL(reference ‖ variant) in nats per token, with bootstrap standard error, and the
    fraction of tokens whose most likely next token is the same in both."""

    reference_sha256: str
    kld_nats_mean: float
    kld_nats_stderr: float
    top1_agreement: float
    tokens_scored: int


def first_scored(window_tokens: int) -> int:
    """Index of a window's first scored token, as llama-perplexity picks it: the logits of
    position `window_tokens // 2` predict it."""
    return window_tokens // 2 + 1


def scored_per_window(window_tokens: int) -> int:
    return max(window_tokens - first_scored(window_tokens), 0)


def token_windows(tokens: Sequence[int], window_tokens: int, budget: int) -> list[list[int]]:
    if scored_per_window(window_tokens) < 1:
        raise MeltError(
            f"--ppl-ctx {window_tokens} leaves no token to score (the first half of a window "
            f"and the token after it are context); use at least {MIN_WINDOW_TOKENS}"
        )
    count = min(budget, len(tokens)) // window_tokens
    if count < 1:
        raise MeltError(
            f"perplexity needs at least one window of {window_tokens} tokens "
            f"(budget {budget}, text {len(tokens)} tokens); raise --ppl-tokens"
        )
    return [list(tokens[i * window_tokens : (i + 1) * window_tokens]) for i in range(count)]


def target_nll(logprobs: np.ndarray, targets: Sequence[int]) -> np.ndarray:
    """Negative log-probability (nats) of each target under its row."""
    return -logprobs[np.arange(len(targets)), np.asarray(targets)].astype(np.float64)


def kl_divergence(reference: np.ndarray, variant: np.ndarray) -> np.ndarray:
    """Per-row KL(P_ref ‖ P_var) = Σ p_ref (log p_ref − log p_var), in nats; inputs are
    log-probabilities (rows × vocab)."""
    ref = reference.astype(np.float64)
    return np.sum(np.exp(ref) * (ref - variant.astype(np.float64)), axis=-1)


def top1_agreement(reference: np.ndarray, variant: np.ndarray) -> np.ndarray:
    return np.argmax(reference, axis=-1) == np.argmax(variant, axis=-1)


def wiki_sample(budget: int) -> str:
    """The start of wiki.utf8 that is tokenized for a budget of `budget` tokens (the whole
    text when that start gives fewer tokens); write it to a file to give llama-perplexity
    (`-f`) exactly melt's text."""
    return wiki_text()[: budget * _CHARS_PER_TOKEN_GUESS]


def wiki_tokens(scorer: Scorer, budget: int) -> list[int]:
    tokens = scorer.vocab.tokenize(wiki_sample(budget), add_special=False)
    if len(tokens) >= budget:
        return tokens
    return scorer.vocab.tokenize(wiki_text(), add_special=False)


def evaluate_text(
    scorers: Mapping[str, Scorer],
    reference: str | None,
    window_tokens: int = DEFAULT_WINDOW_TOKENS,
    budget: int = DEFAULT_TOKEN_BUDGET,
) -> tuple[dict[str, Perplexity], dict[str, Divergence]]:
    """Perplexity of every scorer, and the divergence of every other scorer from
    `scorers[reference]` (none when `reference` is None), over the same windows."""
    first = next(iter(scorers.values()))
    if window_tokens > first.n_ctx:
        raise MeltError(f"--ppl-ctx {window_tokens} is larger than the context ({first.n_ctx})")
    windows = token_windows(wiki_tokens(first, budget), window_tokens, budget)
    start = first_scored(window_tokens)
    nll: dict[str, list[np.ndarray]] = {k: [] for k in scorers}
    kld: dict[str, list[np.ndarray]] = {k: [] for k in scorers if k != reference}
    agree: dict[str, list[np.ndarray]] = {k: [] for k in kld}
    for window in windows:
        if first.vocab.add_bos:
            window = [first.bos, *window[1:]]
        targets = window[start:]
        ref_rows = None
        if reference is not None:
            ref_rows = scorers[reference].token_logprobs(window, start)
            nll[reference].append(target_nll(ref_rows, targets))
        for key, scorer in scorers.items():
            if key == reference:
                continue
            rows = scorer.token_logprobs(window, start)
            nll[key].append(target_nll(rows, targets))
            if ref_rows is not None:
                kld[key].append(kl_divergence(ref_rows, rows))
                agree[key].append(top1_agreement(ref_rows, rows))
    perplexities = {}
    for key, parts in nll.items():
        values = np.concatenate(parts)
        mean = float(values.mean())
        ppl = math.exp(mean)
        perplexities[key] = Perplexity(
            text=TEXT_NAME,
            value=ppl,
            stderr=ppl * bootstrap_stderr(values),
            nll_nats_per_token=mean,
            tokens_scored=int(values.size),
            windows=len(windows),
            window_tokens=window_tokens,
        )
    divergences = {}
    if reference is not None:
        for key in kld:
            values = np.concatenate(kld[key])
            divergences[key] = Divergence(
                reference_sha256=scorers[reference].artifact.sha256,
                kld_nats_mean=float(values.mean()),
                kld_nats_stderr=bootstrap_stderr(values),
                top1_agreement=float(np.concatenate(agree[key]).mean()),
                tokens_scored=int(values.size),
            )
    return perplexities, divergences
