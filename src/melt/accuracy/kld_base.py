"""llama-perplexity's `--kl-divergence-base` file, written from melt's own reference scoring.

llama-perplexity compares a model with a base whose log-probabilities it saved earlier
(`tools/perplexity/perplexity.cpp`): `_logits_`, then n_ctx, n_vocab and n_chunk (int32),
then the chunks' tokens (int32), then for each chunk the rows of its scored positions
(`n_ctx - 1 - n_ctx/2`), each row `nv = 2*((n_vocab+1)/2) + 4` uint16: the row's scale and
smallest log-probability as two float32, then every token's log-probability as a 16-bit step
of a range that ends at the most likely token and spans at most 16 nats. melt writes it from
the rows `Scorer.token_logprobs` gives (the controller's numerics), so the binary on a device
is measured against the controller's reference without a second tool on the controller.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np

MAGIC = b"_logits_"
RANGE_NATS = 16.0  # llama-perplexity's: log-probabilities below max - 16 are stored as 0
STEPS = 65535.0


def row_width(n_vocab: int) -> int:
    """uint16 per stored row: two float32 and the vocabulary, padded to an even count."""
    return 2 * ((n_vocab + 1) // 2) + 4


def quantized_rows(logprobs: np.ndarray) -> np.ndarray:
    """Log-softmax rows (rows × vocab) as llama-perplexity stores them (rows × nv uint16)."""
    rows = logprobs.astype(np.float32)
    n_rows, n_vocab = rows.shape
    top = rows.max(axis=1)
    low = np.maximum(rows.min(axis=1), top - np.float32(RANGE_NATS))
    scale = ((top - low) / np.float32(STEPS)).astype(np.float32)
    out = np.zeros((n_rows, row_width(n_vocab)), dtype=np.uint16)
    head = np.stack([scale, low], axis=1).astype("<f4")
    out[:, :4] = head.view("<u2").reshape(n_rows, 4)
    safe = np.where(scale > 0, scale, np.float32(1))[:, None]
    steps = np.rint((rows - low[:, None]) / safe)
    keep = (rows > low[:, None]) & (scale[:, None] > 0)
    out[:, 4 : 4 + n_vocab] = np.where(keep, steps, 0).astype(np.uint16)
    return out


def write_header(
    out: BinaryIO, window_tokens: int, n_vocab: int, windows: Sequence[Sequence[int]]
) -> None:
    """The file's head: magic, sizes, and every window's tokens as the text gave them (the
    tool puts BOS in place of a window's first token itself, as melt's scoring did)."""
    out.write(MAGIC)
    out.write(np.array([window_tokens, n_vocab, len(windows)], dtype="<i4").tobytes())
    out.write(np.asarray(windows, dtype="<i4").tobytes())


def write_kld_base(
    path: Path,
    window_tokens: int,
    n_vocab: int,
    windows: Sequence[Sequence[int]],
    rows: Iterable[np.ndarray],
) -> None:
    """The whole file: `rows` yields each window's log-softmax rows (its scored positions)."""
    expected = window_tokens - 1 - window_tokens // 2
    with path.open("wb") as out:
        write_header(out, window_tokens, n_vocab, windows)
        for index, block in enumerate(rows):
            if block.shape != (expected, n_vocab):
                raise ValueError(
                    f"window {index}: {block.shape} rows, expected {(expected, n_vocab)}"
                )
            out.write(quantized_rows(block).astype("<u2").tobytes())
