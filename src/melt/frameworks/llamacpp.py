"""llama.cpp through llama-cpp-python's low-level API, with llama.cpp's native sampler chain.

The per-token loop is three C calls (sample, EOG check, decode) and one clock read, with
the token buffer and batch allocated once per turn, so Python adds as little as possible
between llama.cpp's own decode steps; `benchmarks/decode_overhead.py` measures what it adds.
"""

from __future__ import annotations

import ctypes
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import llama_cpp as llama

from melt.config import RunSettings, SamplingSettings
from melt.errors import MeltError
from melt.frameworks.base import register_framework
from melt.frameworks.chat_template import CHATML_TEMPLATE, ChatTemplate
from melt.llama_backend import init_backend
from melt.models import Artifact
from melt.traces import EngineTimers, LoadTrace, TurnTrace
from melt.workloads import Conversation

log = logging.getLogger(__name__)

STOP_EOG = "eog"
STOP_LENGTH = "max_new_tokens"
STOP_CONTEXT = "context_full"


def load_model(artifact: Artifact, *, vocab_only: bool) -> Any:
    init_backend()
    params = llama.llama_model_default_params()
    params.vocab_only = vocab_only
    model = llama.llama_model_load_from_file(str(artifact.path).encode(), params)
    if not model:
        raise MeltError(
            f"llama.cpp could not load model file '{artifact.path}' "
            "(run with -v to see llama.cpp's log; the file may be corrupt or too new)"
        )
    return model


def _rss_bytes() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


class Vocab:
    """Tokenizer and detokenizer over a loaded model's vocabulary."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.vocab = llama.llama_model_get_vocab(model)
        self.add_bos = bool(llama.llama_vocab_get_add_bos(self.vocab))

    def tokenize(self, text: str, add_special: bool | None = None) -> list[int]:
        data = text.encode("utf-8")
        special = self.add_bos if add_special is None else add_special
        capacity = len(data) + 8
        buf = (llama.llama_token * capacity)()
        n = llama.llama_tokenize(self.vocab, data, len(data), buf, capacity, special, True)
        if n < 0:
            capacity = -n
            buf = (llama.llama_token * capacity)()
            n = llama.llama_tokenize(self.vocab, data, len(data), buf, capacity, special, True)
        return list(buf[:n])

    def detokenize(self, tokens: Sequence[int]) -> str:
        if not tokens:
            return ""
        arr = (llama.llama_token * len(tokens))(*tokens)
        capacity = 16 * len(tokens) + 16
        buf = ctypes.create_string_buffer(capacity)
        n = llama.llama_detokenize(self.vocab, arr, len(tokens), buf, capacity, True, False)
        if n < 0:
            capacity = -n
            buf = ctypes.create_string_buffer(capacity)
            n = llama.llama_detokenize(self.vocab, arr, len(tokens), buf, capacity, True, False)
        return buf.raw[:n].decode("utf-8", errors="replace")

    def piece(self, token: int) -> str:
        buf = ctypes.create_string_buffer(64)
        n = llama.llama_token_to_piece(self.vocab, token, buf, len(buf), 0, True)
        return buf.raw[: max(n, 0)].decode("utf-8", errors="replace")

    def chat_template(self) -> ChatTemplate:
        source = llama.llama_model_chat_template(self.model, None)
        if not source:
            log.warning("model has no chat template in its GGUF; using ChatML")
            return ChatTemplate(CHATML_TEMPLATE)
        bos = self.piece(llama.llama_vocab_bos(self.vocab))
        eos = self.piece(llama.llama_vocab_eos(self.vocab))
        return ChatTemplate(source.decode("utf-8"), bos_token=bos, eos_token=eos)


def _sampler_chain(sampling: SamplingSettings, n_vocab: int) -> Any:
    params = llama.llama_sampler_chain_default_params()
    params.no_perf = False
    chain = llama.llama_sampler_chain_init(params)
    if sampling.repeat_penalty != 1.0 and sampling.repeat_last_n > 0:
        llama.llama_sampler_chain_add(
            chain,
            llama.llama_sampler_init_penalties(
                n_vocab, sampling.repeat_last_n, sampling.repeat_penalty, 0.0, 0.0
            ),
        )
    if sampling.temperature == 0:
        llama.llama_sampler_chain_add(chain, llama.llama_sampler_init_greedy())
        return chain
    if sampling.top_k > 0:
        llama.llama_sampler_chain_add(chain, llama.llama_sampler_init_top_k(sampling.top_k))
    llama.llama_sampler_chain_add(chain, llama.llama_sampler_init_top_p(sampling.top_p, 1))
    llama.llama_sampler_chain_add(chain, llama.llama_sampler_init_min_p(sampling.min_p, 1))
    llama.llama_sampler_chain_add(chain, llama.llama_sampler_init_temp(sampling.temperature))
    llama.llama_sampler_chain_add(chain, llama.llama_sampler_init_dist(sampling.seed))
    return chain


def common_prefix_length(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


class LlamaCppEngine:
    """A llama.cpp model + context + sampler chain serving one conversation at a time."""

    def __init__(self, artifact: Artifact, settings: RunSettings) -> None:
        self.settings = settings
        rss_before = _rss_bytes()
        start = time.monotonic_ns()
        self._model = load_model(artifact, vocab_only=False)
        params = llama.llama_context_default_params()
        params.n_ctx = settings.ctx
        params.n_batch = settings.batch
        params.n_ubatch = settings.batch
        params.n_threads = settings.threads
        params.n_threads_batch = settings.threads
        params.no_perf = False
        self._ctx = llama.llama_init_from_model(self._model, params)
        if not self._ctx:
            llama.llama_model_free(self._model)
            raise MeltError(
                f"llama.cpp could not create a context of {settings.ctx} tokens "
                "(lower --ctx or free memory)"
            )
        load_ns = time.monotonic_ns() - start
        self._vocab = Vocab(self._model)
        self._template = self._vocab.chat_template()
        self._sampler = _sampler_chain(
            settings.sampling, llama.llama_vocab_n_tokens(self._vocab.vocab)
        )
        self._memory = llama.llama_get_memory(self._ctx)
        # llama.cpp may round the context up; the user's --ctx stays the budget.
        self.n_ctx = min(settings.ctx, int(llama.llama_n_ctx(self._ctx)))
        self.n_batch = int(llama.llama_n_batch(self._ctx))  # llama.cpp caps it at n_ctx
        self._cached: list[int] = []
        self.load = LoadTrace(
            load_ns=load_ns,
            model_bytes=int(llama.llama_model_size(self._model)),
            model_params=int(llama.llama_model_n_params(self._model)),
            rss_before_bytes=rss_before,
            rss_after_bytes=_rss_bytes(),
            context_tokens=int(llama.llama_n_ctx(self._ctx)),
            system_info=llama.llama_print_system_info().decode(errors="replace"),
        )

    def tokenize(self, text: str) -> list[int]:
        return self._vocab.tokenize(text)

    def _prompt(self, messages: Sequence[dict[str, str]]) -> list[int]:
        return self._vocab.tokenize(self._template.render(messages, add_generation_prompt=True))

    def chat_prompt_tokens(self, user_turns: Sequence[str]) -> int:
        return len(self._prompt([{"role": "user", "content": t} for t in user_turns]))

    def reset(self) -> None:
        """Forget the KV cache and sampler state: conversations are independent."""
        llama.llama_memory_clear(self._memory, True)
        llama.llama_sampler_reset(self._sampler)
        self._cached = []

    def converse(
        self, conversation: Conversation, conversation_index: int, *, warmup: bool = False
    ) -> Iterator[TurnTrace]:
        self.reset()
        messages: list[dict[str, str]] = []
        for turn_index, user_text in enumerate(conversation.turns):
            trace, reply = self._turn(messages, user_text, conversation_index, turn_index, warmup)
            messages.append({"role": "user", "content": user_text})
            messages.append({"role": "assistant", "content": reply})
            yield trace

    def _fit_history(self, messages: list[dict[str, str]], user_text: str) -> tuple[list[int], int]:
        """Templated prompt tokens, dropping the oldest exchanges as a chat app must when
        the history plus the reply budget no longer fits the context."""
        budget = self.n_ctx - self.settings.max_new_tokens
        history = list(messages)
        dropped = 0
        while True:
            tokens = self._prompt([*history, {"role": "user", "content": user_text}])
            if len(tokens) <= budget or not history:
                break
            history = history[2:]
            dropped += 1
        if len(tokens) > budget:
            raise MeltError(
                f"--ctx {self.n_ctx} is too small for a turn of {len(tokens)} prompt tokens plus "
                f"{self.settings.max_new_tokens} new tokens; raise --ctx"
            )
        return tokens, dropped

    def _turn(
        self,
        messages: list[dict[str, str]],
        user_text: str,
        conversation_index: int,
        turn_index: int,
        warmup: bool,
    ) -> tuple[TurnTrace, str]:
        wall_anchor = time.time_ns()
        submit = time.monotonic_ns()
        cpu_start = time.process_time_ns()
        tokens, dropped = self._fit_history(messages, user_text)

        reused = common_prefix_length(self._cached, tokens)
        if reused == len(tokens):
            reused -= 1  # the last prompt token must be evaluated to get logits
        if not llama.llama_memory_seq_rm(self._memory, 0, reused, -1):
            llama.llama_memory_clear(self._memory, True)
            reused = 0
        llama.llama_perf_context_reset(self._ctx)
        llama.llama_perf_sampler_reset(self._sampler)

        ctx, sampler, vocab = self._ctx, self._sampler, self._vocab.vocab
        pending = tokens[reused:]
        prefill_start = time.monotonic_ns()
        for offset in range(0, len(pending), self.n_batch):
            chunk = pending[offset : offset + self.n_batch]
            arr = (llama.llama_token * len(chunk))(*chunk)
            self._check(llama.llama_decode(ctx, llama.llama_batch_get_one(arr, len(chunk))))
        llama.llama_synchronize(ctx)
        prefill_done = time.monotonic_ns()

        max_new = self.settings.max_new_tokens
        room = self.n_ctx - len(tokens)
        token_buf = (llama.llama_token * 1)()
        batch = llama.llama_batch_get_one(token_buf, 1)
        sample, decode, is_eog, now = (
            llama.llama_sampler_sample,
            llama.llama_decode,
            llama.llama_vocab_is_eog,
            time.monotonic_ns,
        )
        stamps: list[int] = []
        generated: list[int] = []
        stop = STOP_LENGTH
        while True:
            token = sample(sampler, ctx, -1)
            stamps.append(now())
            generated.append(token)
            if is_eog(vocab, token):
                stop = STOP_EOG
                break
            if len(generated) >= max_new:
                break
            if len(generated) >= room:
                stop = STOP_CONTEXT
                break
            token_buf[0] = token
            self._check(decode(ctx, batch))
        end = time.monotonic_ns()

        # Every sampled token but the last was decoded into the KV cache.
        self._cached = tokens + generated[:-1]
        visible = generated[:-1] if stop == STOP_EOG else generated
        reply = self._vocab.detokenize(visible)
        perf = llama.llama_perf_context(ctx)
        sampler_perf = llama.llama_perf_sampler(sampler)
        engine = EngineTimers(
            prefill_ms=perf.t_p_eval_ms,
            prefill_tokens=perf.n_p_eval,
            decode_ms=perf.t_eval_ms,
            decode_tokens=perf.n_eval,
            sample_ms=sampler_perf.t_sample_ms,
            sample_tokens=sampler_perf.n_sample,
            raw={
                "t_p_eval_ms": perf.t_p_eval_ms,
                "n_p_eval": perf.n_p_eval,
                "t_eval_ms": perf.t_eval_ms,
                "n_eval": perf.n_eval,
                "n_reused_graphs": perf.n_reused,
                "t_sample_ms": sampler_perf.t_sample_ms,
                "n_sample": sampler_perf.n_sample,
            },
        )
        trace = TurnTrace(
            conversation_index=conversation_index,
            turn_index=turn_index,
            warmup=warmup,
            wall_anchor_ns=wall_anchor,
            submit_ns=submit,
            prefill_start_ns=prefill_start,
            prefill_done_ns=prefill_done,
            token_ns=tuple(stamps),
            end_ns=end,
            prompt_tokens=len(tokens),
            prompt_tokens_evaluated=len(pending),
            prompt_tokens_reused=reused,
            stop_reason=stop,
            output_text=reply,
            history_turns_dropped=dropped,
            cpu_time_ns=time.process_time_ns() - cpu_start,
            rss_bytes=_rss_bytes(),
            engine=engine,
        )
        return trace, reply

    @staticmethod
    def _check(status: int) -> None:
        if status != 0:
            raise RuntimeError(f"llama_decode failed with status {status}")

    def close(self) -> None:
        if getattr(self, "_sampler", None):
            llama.llama_sampler_free(self._sampler)
            self._sampler = None
        if getattr(self, "_ctx", None):
            llama.llama_free(self._ctx)
            self._ctx = None
        if getattr(self, "_model", None):
            llama.llama_model_free(self._model)
            self._model = None


@register_framework("llama.cpp")
class LlamaCpp:
    name = "llama.cpp"

    def version(self) -> str:
        return f"llama-cpp-python {llama.__version__}"

    def system_info(self) -> str:
        init_backend()
        return llama.llama_print_system_info().decode(errors="replace").strip()

    def load(self, artifact: Artifact, settings: RunSettings) -> LlamaCppEngine:
        return LlamaCppEngine(artifact, settings)

    def tokenizer(self, artifact: Artifact) -> Callable[[str], list[int]]:
        vocab = Vocab(load_model(artifact, vocab_only=True))
        return vocab.tokenize
