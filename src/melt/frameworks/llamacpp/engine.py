"""llama.cpp through llama-cpp-python's low-level API, with llama.cpp's native sampler chain.

The per-token loop is three C calls (sample, EOG check, decode) and one clock read, with
the token buffer and batch allocated once per turn, so Python adds as little as possible
between llama.cpp's own decode steps; `benchmarks/decode_overhead.py` measures what it adds.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import llama_cpp as llama

from melt.compute import (
    ComputeAsk,
    ComputeDevice,
    ComputeUse,
    refuse_fallback,
    refuse_no_accelerator,
)
from melt.errors import MeltError
from melt.frameworks.base import FrameworkDefaults
from melt.frameworks.chat_template import CHATML_TEMPLATE, ChatTemplate
from melt.frameworks.common import ChatEngine, Generation, generate, rss_bytes
from melt.frameworks.llamacpp import ggml_devices
from melt.frameworks.llamacpp.ggml_devices import Offload
from melt.frameworks.llamacpp.load_log import compute_use
from melt.frameworks.llamacpp.threadpool import Threadpool, lib_dir
from melt.llama_backend import captured_log, init_backend
from melt.traces import EngineTimers, LoadTrace

if TYPE_CHECKING:  # settings and artifacts arrive as plain attributes on a device's runner
    from melt.config import RunSettings, SamplingSettings
    from melt.frameworks.llamacpp.settings import LlamaCppSettings
    from melt.models import Artifact

log = logging.getLogger(__name__)


FLASH_ATTN = {
    "auto": llama.LLAMA_FLASH_ATTN_TYPE_AUTO,
    "off": llama.LLAMA_FLASH_ATTN_TYPE_DISABLED,
    "on": llama.LLAMA_FLASH_ATTN_TYPE_ENABLED,
}
# ggml_type of each KV cache type name (ggml.h).
GGML_TYPES = {
    "f32": 0,
    "f16": 1,
    "q4_0": 2,
    "q4_1": 3,
    "q5_0": 6,
    "q5_1": 7,
    "q8_0": 8,
    "iq4_nl": 20,
    "bf16": 30,
}


def load_model(
    artifact: Artifact, *, vocab_only: bool, mmap: bool = True, offload: Offload | None = None
) -> Any:
    """The model, on the CPU unless `offload` says otherwise (llama.cpp's own default
    offloads every layer a GPU backend can take)."""
    init_backend()
    params = llama.llama_model_default_params()
    params.vocab_only = vocab_only
    params.use_mmap = mmap
    params.n_gpu_layers = 0
    if offload is not None:
        offload.apply(params)
    model = llama.llama_model_load_from_file(str(artifact.path).encode(), params)
    if not model:
        raise MeltError(
            f"llama.cpp could not load model file '{artifact.path}' "
            "(run with -v to see llama.cpp's log; the file may be corrupt or too new)"
        )
    return model


def own_settings(settings: RunSettings) -> LlamaCppSettings:
    """llama.cpp's own knobs from the run's settings, or a one-line error when they are
    another framework's. Read by attribute: on a device's runner the settings are the
    controller's validated values without pydantic (melt.runners.wire.Namespace)."""
    engine = settings.engine
    if getattr(engine, "framework", None) != "llama.cpp":
        raise MeltError(
            f"llama.cpp got settings for {getattr(engine, 'framework', '?')} "
            f"(pass --framework {getattr(engine, 'framework', 'llama.cpp')}, or llama.cpp's)"
        )
    return engine


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


class LlamaCppEngine(ChatEngine):
    """A llama.cpp model + context + sampler chain serving one conversation at a time."""

    def __init__(self, artifact: Artifact, settings: RunSettings) -> None:
        self.settings = settings
        own = own_settings(settings)
        ask = ComputeAsk.of(own)
        init_backend()
        available = ggml_devices.devices()
        refuse_no_accelerator(ask, available, ggml_devices.backends())
        rss_before = rss_bytes()
        start = time.monotonic_ns()
        with captured_log() as load_log:
            self._load(artifact, settings, own, ask)
        compute = compute_use(
            load_log,
            available,
            f"llama.cpp's load log and ggml's backend registry, libllama from {lib_dir()}",
        )
        try:
            refuse_fallback(ask, compute)
        except MeltError:
            self.close()
            raise
        self._threadpool = Threadpool(
            self._ctx,
            settings.threads,
            cpu_mask=own.cpu_mask,
            strict=own.cpu_strict,
            poll=own.poll,
        )
        load_ns = time.monotonic_ns() - start
        self._finish_load(settings, load_ns, rss_before, compute)

    def _load(
        self, artifact: Artifact, settings: RunSettings, own: LlamaCppSettings, ask: ComputeAsk
    ) -> None:
        """The model and its context, as the run's knobs say (llama.cpp logs where the
        weights and the KV cache went meanwhile)."""
        self._model = load_model(artifact, vocab_only=False, mmap=own.mmap, offload=Offload(own))
        params = llama.llama_context_default_params()
        params.n_ctx = settings.ctx
        params.n_batch = settings.batch
        params.n_ubatch = settings.batch
        params.n_threads = settings.threads
        params.n_threads_batch = settings.threads
        params.flash_attn_type = FLASH_ATTN[own.flash_attn]
        params.type_k = GGML_TYPES[own.cache_type_k]
        params.type_v = GGML_TYPES[own.cache_type_v]
        params.offload_kqv = own.kv_offload
        # A CPU run computes nothing on a GPU: llama.cpp's default also offloads a large
        # batch's host-weight matmuls to the device (llama-bench -nopo turns that off).
        params.op_offload = ask.offload
        params.no_perf = False
        self._ctx = llama.llama_init_from_model(self._model, params)
        if not self._ctx:
            llama.llama_model_free(self._model)
            raise MeltError(
                f"llama.cpp could not create a context of {settings.ctx} tokens with K/V cache "
                f"{own.cache_type_k}/{own.cache_type_v} and flash attention {own.flash_attn} "
                "(lower --ctx or free memory; a quantized V cache needs --flash-attn on)"
            )

    def _finish_load(
        self, settings: RunSettings, load_ns: int, rss_before: int, compute: ComputeUse
    ) -> None:
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
            rss_after_bytes=rss_bytes(),
            context_tokens=int(llama.llama_n_ctx(self._ctx)),
            system_info=llama.llama_print_system_info().decode(errors="replace"),
            compute=compute,
        )

    def tokenize(self, text: str) -> list[int]:
        return self._vocab.tokenize(text)

    def reset(self) -> None:
        """Forget the KV cache and sampler state: conversations are independent."""
        llama.llama_memory_clear(self._memory, True)
        llama.llama_sampler_reset(self._sampler)
        self._cached = []

    def _keep(self, reused: int) -> int:
        if not llama.llama_memory_seq_rm(self._memory, 0, reused, -1):
            llama.llama_memory_clear(self._memory, True)
            reused = 0
        llama.llama_perf_context_reset(self._ctx)
        llama.llama_perf_sampler_reset(self._sampler)
        return reused

    def _prefill(self, pending: list[int]) -> None:
        ctx = self._ctx
        for offset in range(0, len(pending), self.n_batch):
            chunk = pending[offset : offset + self.n_batch]
            arr = (llama.llama_token * len(chunk))(*chunk)
            self._check(llama.llama_decode(ctx, llama.llama_batch_get_one(arr, len(chunk))))
        llama.llama_synchronize(ctx)

    def _generate(self, room: int) -> Generation:
        ctx, sampler = self._ctx, self._sampler
        token_buf = (llama.llama_token * 1)()
        batch = llama.llama_batch_get_one(token_buf, 1)
        sample, decode, check = llama.llama_sampler_sample, llama.llama_decode, self._check

        def advance(token: int) -> None:
            token_buf[0] = token
            check(decode(ctx, batch))

        return generate(
            lambda: sample(sampler, ctx, -1),
            advance,
            functools.partial(llama.llama_vocab_is_eog, self._vocab.vocab),
            self.settings.max_new_tokens,
            room,
        )

    def _detokenize(self, tokens: list[int]) -> str:
        return self._vocab.detokenize(tokens)

    def _timers(self) -> EngineTimers:
        """llama.cpp's perf counters for the turn just served."""
        perf = llama.llama_perf_context(self._ctx)
        sampler_perf = llama.llama_perf_sampler(self._sampler)
        return EngineTimers(
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
                "source": "llama.cpp perf counters (llama_perf_context, llama_perf_sampler)",
            },
        )

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
        if getattr(self, "_threadpool", None):
            self._threadpool.free()
            self._threadpool = None
        if getattr(self, "_model", None):
            llama.llama_model_free(self._model)
            self._model = None


class LlamaCpp(FrameworkDefaults):
    name = "llama.cpp"

    def version(self) -> str:
        return f"llama-cpp-python {llama.__version__}"

    def system_info(self) -> str:
        init_backend()
        return llama.llama_print_system_info().decode(errors="replace").strip()

    def compute_devices(self) -> tuple[ComputeDevice, ...]:
        """ggml's backend registry of the libllama this process loaded."""
        init_backend()
        return ggml_devices.devices()

    def load(self, artifact: Artifact, settings: RunSettings) -> LlamaCppEngine:
        return LlamaCppEngine(artifact, settings)

    def variant(self, spec: str, quant: str | None, on_step: Callable[[str], None]) -> Artifact:
        from melt.models import resolve_model

        artifact = resolve_model(spec)
        if artifact.format != "gguf":
            raise MeltError(
                f"'{spec}' is an {artifact.format} model; llama.cpp runs GGUF files "
                "(pass --framework onnxruntime-genai, or a GGUF model)"
            )
        if quant is None:
            return artifact
        from melt.models.quantize import make_variant

        return make_variant(artifact, quant, on_step=on_step).artifact

    def tokenizer(self, artifact: Artifact) -> Callable[[str], list[int]]:
        vocab = Vocab(load_model(artifact, vocab_only=True))
        return vocab.tokenize

    def prompt_counter(self, artifact: Artifact) -> Callable[[Sequence[str]], int]:
        vocab = Vocab(load_model(artifact, vocab_only=True))
        template = vocab.chat_template()

        def count(user_turns: Sequence[str]) -> int:
            messages = [{"role": "user", "content": t} for t in user_turns]
            return len(vocab.tokenize(template.render(messages, add_generation_prompt=True)))

        return count
