"""Log-likelihoods and next-token log-probabilities over ONNX Runtime GenAI, in process: the
same interface as `melt.accuracy.scorer.Scorer` (llama.cpp), so tasks, prompts, metrics and
wiki.utf8 windows are the same whichever framework scores them.

One token per call: ONNX Runtime's int4 `MatMulNBits` takes a different kernel for one row
than for two or more, and on the int4 export the two give log-probabilities up to 0.36 nats
per token apart (measured on a 28-token sentence; 1.5e-5 on the fp32 export, and any chunk
of 2+ rows gives the full-batch values). One row is the path every generated token takes, so
scores are those of the model a chat user gets, and they do not depend on how an item was
batched. A context shared by an item's choices (or by consecutive items) stays in the
generator's KV cache: the generator is rewound to the common prefix, never re-run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from melt.accuracy.scorer import DEFAULT_CTX, TokenSequence, encode_pair, log_softmax
from melt.accuracy.tasks import Loglikelihood, Request
from melt.frameworks.common import common_prefix_length
from melt.frameworks.ort_genai.engine import import_og, load_model
from melt.frameworks.ort_genai.settings import OrtGenAISettings
from melt.models import Artifact
from melt.models.ort_export import validate_ort_folder


class OrtVocab:
    """Tokenizer of an ONNX Runtime GenAI model, with llama.cpp's `Vocab.tokenize` meaning
    of `add_special` (whether a BOS the tokenizer adds is kept)."""

    def __init__(self, tokenizer: Any, bos: int) -> None:
        self._tokenizer = tokenizer
        self.bos = bos
        self.add_bos = self._encode("a")[:1] == [bos]

    def _encode(self, text: str) -> list[int]:
        return [int(t) for t in self._tokenizer.encode(text)]

    def tokenize(self, text: str, add_special: bool | None = None) -> list[int]:
        tokens = self._encode(text)
        if add_special is False and self.add_bos and tokens[:1] == [self.bos]:
            return tokens[1:]
        return tokens


class OrtScorer:
    """An ONNX Runtime GenAI model loaded for scoring, one generator reused throughout."""

    def __init__(
        self, artifact: Artifact, *, threads: int, ctx: int = DEFAULT_CTX, batch: int = 0
    ) -> None:
        """`batch` is taken as every scorer takes it and unused: GenAI appends a request's
        tokens in one call, with no prefill batch to set."""
        self.og = import_og()
        config = validate_ort_folder(artifact.path)
        self.artifact = artifact
        self._model = load_model(artifact.path, threads, OrtGenAISettings())
        self.bos = int(config["model"].get("bos_token_id", 1))
        self.vocab = OrtVocab(self.og.Tokenizer(self._model), self.bos)
        self.n_ctx = min(ctx, int(config["model"].get("context_length") or ctx))
        self._params = self.og.GeneratorParams(self._model)
        self._params.set_search_options(max_length=self.n_ctx)
        self._generator: Any = None
        self._tokens: list[int] = []  # tokens the generator's KV cache holds

    def encode_pair(self, request: Request) -> TokenSequence:
        return encode_pair(request, self.vocab.tokenize, self.bos, self.n_ctx)

    def _keep(self, prefix: Sequence[int]) -> None:
        """Make the KV cache hold a prefix of `prefix`, rewinding what differs."""
        keep = common_prefix_length(self._tokens, prefix)
        if self._generator is None or keep == 0:
            self._generator = self.og.Generator(self._model, self._params)
            keep = 0
        elif keep < len(self._tokens):
            self._generator.rewind_to(keep)
        self._tokens = list(self._tokens[:keep])

    def _feed(self, tokens: Sequence[int], want_from: int) -> list[np.ndarray]:
        """Append `tokens` one at a time after the cached ones; return the logits after
        each token from index `want_from` of `tokens` on."""
        rows = []
        for index, token in enumerate(tokens):
            self._generator.append_tokens(np.array([token], dtype=np.int32))
            self._tokens.append(int(token))
            if index >= want_from:
                rows.append(np.array(self._generator.get_output("logits")[0, -1], np.float32))
        return rows

    def _continuation(self, seq: TokenSequence) -> np.ndarray:
        """Log-softmax rows predicting tokens[start:], reusing the cached prefix (at most the
        context: the row of its last token predicts the continuation's first)."""
        inputs = seq.tokens[:-1]
        self._keep(inputs[: seq.start - 1])
        cached = len(self._tokens)
        return log_softmax(np.stack(self._feed(inputs[cached:], seq.start - 1 - cached)))

    def loglikelihoods(self, requests: Sequence[Request]) -> list[Loglikelihood]:
        results = []
        for request in requests:
            seq = self.encode_pair(request)
            rows = self._continuation(seq)
            targets = seq.tokens[seq.start :]
            logprob = float(sum(rows[k, t] for k, t in enumerate(targets)))
            greedy = all(int(np.argmax(rows[k])) == t for k, t in enumerate(targets))
            results.append(Loglikelihood(logprob, len(targets), greedy))
        return results

    def token_logprobs(self, tokens: Sequence[int], first_scored: int) -> np.ndarray:
        """Log-softmax rows predicting tokens[first_scored:] from one window (rows × vocab),
        decoded fresh."""
        if len(tokens) > self.n_ctx or first_scored < 1:
            raise ValueError("window longer than the context or nothing to predict from")
        self._keep([])
        rows = self._feed(tokens[:-1], first_scored - 1)
        return log_softmax(np.stack(rows)).astype(np.float32)

    def close(self) -> None:
        self._generator = None
        self._params = None
        self._model = None

    def __enter__(self) -> OrtScorer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
