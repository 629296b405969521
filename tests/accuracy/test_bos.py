"""BOS as the GGUF says: a copy of the bundled model whose metadata asks for BOS
(`tokenizer.ggml.add_bos_token` flipped in place with the gguf package, as its
`gguf_set_metadata` script does) must get BOS before every context, and its scores must
still equal one-token-at-a-time decoding."""

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from gguf import GGUFReader

from melt.accuracy.scorer import Scorer
from melt.accuracy.tasks import Request
from melt.models import Artifact, resolve_model

REQUEST = Request("The capital of Italy is", " Rome.")


@pytest.fixture(scope="module")
def bos_model(bundled: Artifact, tmp_path_factory: pytest.TempPathFactory) -> Artifact:
    path = tmp_path_factory.mktemp("bos") / "with-bos.gguf"
    shutil.copyfile(bundled.path, path)
    reader = GGUFReader(path, "r+")
    field = reader.fields["tokenizer.ggml.add_bos_token"]
    field.parts[field.data[0]][0] = 1
    reader.data.flush()
    del reader
    return resolve_model(str(path))


@pytest.fixture(scope="module")
def bos_scorer(bos_model: Artifact) -> Iterator[Scorer]:
    with Scorer(bos_model, threads=1, ctx=512, batch=32) as s:
        yield s


def test_context_starts_with_bos(bos_scorer: Scorer, bos_model: Artifact) -> None:
    assert Path(bos_model.path).exists()
    assert bos_scorer.vocab.add_bos is True
    seq = bos_scorer.encode_pair(REQUEST)
    plain = bos_scorer.vocab.tokenize(REQUEST.context, add_special=False)
    assert seq.tokens[0] == bos_scorer.bos
    assert seq.tokens[1 : seq.start] == plain
    empty = bos_scorer.encode_pair(Request("", "Rome"))
    assert empty.tokens.count(bos_scorer.bos) == 1  # not doubled for an empty context


def test_scores_with_bos_equal_token_by_token(
    bos_scorer: Scorer, bundled: Artifact, token_by_token: Callable[..., float]
) -> None:
    seq = bos_scorer.encode_pair(REQUEST)
    value = bos_scorer.loglikelihoods([REQUEST])[0].logprob
    assert value == pytest.approx(token_by_token(bos_scorer, seq.tokens, seq.start), abs=2e-3)
    with Scorer(bundled, threads=1, ctx=512, batch=32) as plain:
        without = plain.loglikelihoods([REQUEST])[0].logprob
    assert abs(value - without) > 1e-3  # BOS really is part of what the model saw
