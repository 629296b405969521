"""Log-likelihoods of continuations and next-token log-probabilities over llama.cpp, in
process.

What makes it fast: an item's choices share their context, so the shared tokens are
decoded once into sequence 0 of a unified KV cache, copied (by reference, no compute) to
one sequence per choice, and all choices' remaining tokens go to llama.cpp together in one
batch with logits requested only where a continuation token is predicted. The shared part
also stays cached across items, so few-shot prefixes are decoded once per subject.

Layout independence: llama.cpp's CPU kernels are chosen by the number of rows a kernel call
sees, and with quantized weights micro-batches of 64+ rows give log-likelihoods that differ
from one-token-at-a-time decoding (by 0.32 nats per HellaSwag choice on average on the
bundled Q4_1, measured), so an item's score would depend on which other choices shared its
batch. Micro-batches of `MICRO_BATCH` rows give exactly the one-token-at-a-time values at the
same speed, so `--batch` only sets how many tokens go to one `llama_decode` call.

Token positions: the logits *at* position p predict the token at p + 1. A continuation
token at position j is therefore scored with the logits of position j - 1; with no BOS
(`add_bos_token` false in the GGUF, as for SmolLM2) an empty context has no position to
predict from, so the BOS token is put in front, as lm-evaluation-harness does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import llama_cpp as llama
import numpy as np

from melt.accuracy.tasks import Loglikelihood, Request
from melt.errors import MeltError
from melt.frameworks.common import common_prefix_length
from melt.frameworks.llamacpp.engine import Vocab, load_model
from melt.models import Artifact

log = logging.getLogger(__name__)

DEFAULT_CTX = 4096
DEFAULT_BATCH = 512
MICRO_BATCH = 32  # rows per kernel call; see "Layout independence" above
MAX_PARALLEL_CHOICES = 8  # sequences 1..8 hold choices; sequence 0 holds the shared prefix


@dataclass(frozen=True, slots=True)
class TokenSequence:
    tokens: list[int]
    start: int  # index of the first continuation token in `tokens`


def encode_pair(
    request: Request, tokenize: Callable[[str], list[int]], bos: int, n_ctx: int
) -> TokenSequence:
    """lm-eval's `_encode_pair`: trailing spaces of the context move to the continuation;
    the continuation's tokens are what `context + continuation` has after the context's own
    tokens. Shared by every framework's scorer, so all score the same tokens."""
    context, continuation = request.context, request.continuation
    spaces = len(context) - len(context.rstrip())
    if spaces:
        continuation = context[-spaces:] + continuation
        context = context[:-spaces]
    whole = tokenize(context + continuation)
    context_tokens = tokenize(context)
    if not context_tokens:
        whole = [bos, *whole]
        context_tokens = [bos, *context_tokens]
    tokens, start = whole, len(context_tokens)
    if start >= len(tokens):
        raise MeltError(f"empty continuation after tokenizing {request.continuation!r}")
    if len(tokens) > n_ctx:  # keep the end, like lm-eval's left truncation
        cut = len(tokens) - n_ctx
        tokens, start = tokens[cut:], max(start - cut, 1)
    return TokenSequence(tokens, start)


@dataclass(frozen=True, slots=True)
class _Slot:
    """One token of a batch, and where its prediction (if any) is recorded."""

    token: int
    pos: int
    seq: int
    target: int  # the token its logits must predict, or -1 for none
    choice: int


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax in float64 (stable: subtract the row max first)."""
    x = logits.astype(np.float64)
    x -= x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


class Scorer:
    """A model loaded for scoring: a context with logits for any batch position."""

    def __init__(
        self,
        artifact: Artifact,
        *,
        threads: int,
        ctx: int = DEFAULT_CTX,
        batch: int = DEFAULT_BATCH,
    ) -> None:
        if batch < MICRO_BATCH:
            raise MeltError(f"--batch {batch} is too small: use at least {MICRO_BATCH} tokens")
        self.artifact = artifact
        self._model = load_model(artifact, vocab_only=False)
        self.vocab = Vocab(self._model)
        params = llama.llama_context_default_params()
        params.n_ctx = ctx
        params.n_batch = batch
        params.n_ubatch = MICRO_BATCH
        params.n_seq_max = MAX_PARALLEL_CHOICES + 1
        params.kv_unified = True  # choices share the prefix cells instead of copying them
        params.n_threads = threads
        params.n_threads_batch = threads
        self._ctx = llama.llama_init_from_model(self._model, params)
        if not self._ctx:
            llama.llama_model_free(self._model)
            raise MeltError(f"llama.cpp could not create a context of {ctx} tokens (lower --ctx)")
        self._memory = llama.llama_get_memory(self._ctx)
        self.n_ctx = int(llama.llama_n_ctx(self._ctx))
        self.n_batch = int(llama.llama_n_batch(self._ctx))
        self.n_vocab = int(llama.llama_vocab_n_tokens(self.vocab.vocab))
        self.bos = int(llama.llama_vocab_bos(self.vocab.vocab))
        self._batch = llama.llama_batch_init(self.n_batch, 0, 1)
        self._prefix: list[int] = []  # tokens held by sequence 0

    # --- tokens --------------------------------------------------------------------------

    def encode_pair(self, request: Request) -> TokenSequence:
        return encode_pair(request, self.vocab.tokenize, self.bos, self.n_ctx)

    # --- decoding ------------------------------------------------------------------------

    def _decode(self, slots: Sequence[_Slot]) -> np.ndarray:
        """Decode one batch; return the log-softmax rows of the slots that want logits."""
        batch = self._batch
        batch.n_tokens = len(slots)
        for i, s in enumerate(slots):
            batch.token[i] = s.token
            batch.pos[i] = s.pos
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = s.seq
            batch.logits[i] = s.target >= 0
        status = llama.llama_decode(self._ctx, batch)
        if status != 0:
            raise RuntimeError(f"llama_decode failed with status {status}")
        wanted = [i for i, s in enumerate(slots) if s.target >= 0]
        rows = np.empty((len(wanted), self.n_vocab), dtype=np.float32)
        for row, index in enumerate(wanted):
            pointer = llama.llama_get_logits_ith(self._ctx, index)
            rows[row] = np.ctypeslib.as_array(pointer, shape=(self.n_vocab,))
        return log_softmax(rows)

    def _run(self, slots: list[_Slot]) -> Iterator[tuple[_Slot, np.ndarray]]:
        for offset in range(0, len(slots), self.n_batch):
            chunk = slots[offset : offset + self.n_batch]
            rows = self._decode(chunk)
            scored = [s for s in chunk if s.target >= 0]
            yield from zip(scored, rows, strict=True)

    def _set_prefix(self, prefix: list[int]) -> None:
        """Make sequence 0 hold exactly `prefix`, decoding only what differs from before."""
        keep = common_prefix_length(self._prefix, prefix)
        if not llama.llama_memory_seq_rm(self._memory, 0, keep, -1):
            llama.llama_memory_clear(self._memory, True)
            keep = 0
        for seq in range(1, MAX_PARALLEL_CHOICES + 1):
            llama.llama_memory_seq_rm(self._memory, seq, -1, -1)
        slots = [_Slot(t, keep + i, 0, -1, -1) for i, t in enumerate(prefix[keep:])]
        for _ in self._run(slots):
            pass
        self._prefix = list(prefix)

    def loglikelihoods(self, requests: Sequence[Request]) -> list[Loglikelihood]:
        """Log-likelihood of each request's continuation; requests sharing a context (one
        item's choices) should be passed together so the context is decoded once."""
        seqs = [self.encode_pair(r) for r in requests]
        shared = min(s.start - 1 for s in seqs)
        for s in seqs[1:]:
            shared = min(shared, common_prefix_length(seqs[0].tokens, s.tokens))
        self._set_prefix(seqs[0].tokens[:shared])
        sums = [0.0] * len(seqs)
        greedy = [True] * len(seqs)
        for group in self._groups(seqs, shared):
            slots: list[_Slot] = []
            for seq_id, index in enumerate(group, start=1):
                llama.llama_memory_seq_cp(self._memory, 0, seq_id, -1, -1)
                tokens, start = seqs[index].tokens, seqs[index].start
                for pos in range(shared, len(tokens)):
                    target = tokens[pos + 1] if start - 1 <= pos < len(tokens) - 1 else -1
                    slots.append(_Slot(tokens[pos], pos, seq_id, target, index))
            for slot, row in self._run(slots):
                sums[slot.choice] += float(row[slot.target])
                greedy[slot.choice] &= int(np.argmax(row)) == slot.target
            for seq_id in range(1, len(group) + 1):
                llama.llama_memory_seq_rm(self._memory, seq_id, -1, -1)
        return [
            Loglikelihood(sums[i], len(s.tokens) - s.start, greedy[i]) for i, s in enumerate(seqs)
        ]

    def _groups(self, seqs: list[TokenSequence], shared: int) -> Iterator[list[int]]:
        """Choices that fit together in the free KV cells and the parallel sequences."""
        free = self.n_ctx - shared
        group: list[int] = []
        used = 0
        for index, seq in enumerate(seqs):
            need = len(seq.tokens) - shared
            if group and (used + need > free or len(group) == MAX_PARALLEL_CHOICES):
                yield group
                group, used = [], 0
            group.append(index)
            used += need
        if group:
            yield group

    def token_logprobs(self, tokens: Sequence[int], first_scored: int) -> np.ndarray:
        """Log-softmax rows predicting tokens[first_scored:] from one window (rows × vocab);
        row k predicts tokens[first_scored + k]. The window is decoded fresh."""
        if len(tokens) > self.n_ctx or first_scored < 1:
            raise ValueError("window longer than the context or nothing to predict from")
        llama.llama_memory_clear(self._memory, True)
        self._prefix = []
        slots = [
            _Slot(
                t, pos, 0, tokens[pos + 1] if first_scored - 1 <= pos < len(tokens) - 1 else -1, 0
            )
            for pos, t in enumerate(tokens)
        ]
        rows = [row.astype(np.float32) for _, row in self._run(slots)]
        llama.llama_memory_clear(self._memory, True)
        return np.stack(rows)

    def close(self) -> None:
        if getattr(self, "_batch", None) is not None:
            llama.llama_batch_free(self._batch)
            self._batch = None
        if getattr(self, "_ctx", None):
            llama.llama_free(self._ctx)
            self._ctx = None
        if getattr(self, "_model", None):
            llama.llama_model_free(self._model)
            self._model = None

    def __enter__(self) -> Scorer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
