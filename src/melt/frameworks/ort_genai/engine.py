"""ONNX Runtime GenAI (`onnxruntime-genai`), in process, on an exported model folder.

The engine keeps one `Generator` per conversation, as a chat app would: a turn's templated
prompt is compared with the tokens already in the generator's KV cache, the generator is
rewound (`rewind_to`) to the common prefix, and only the rest is appended (`append_tokens`
runs the prefill). Each `generate_next_token` samples one token from the current logits,
running the model on the previous token first when it has not been, so the loop is the same
as llama.cpp's (sample, clock, decode) and the last sampled token of a turn is never run:
the next turn's prefill starts with it.

The prompt is rendered with melt's chat-template renderer over the template the export wrote
(`chat_template.jinja`, the one of the GGUF), so both frameworks see the same prompt text.
ONNX Runtime GenAI has no per-phase timers in its Python API: the trace has the engine's
token timestamps and no `engine` timers. Its sampler has no min-p; a `min_p` other than 0 is
recorded as not applied in the load's system info, not silently dropped.
"""

from __future__ import annotations

import importlib.metadata
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from melt.compute import ComputeDevice
from melt.config import RunSettings, SamplingSettings
from melt.errors import MeltError
from melt.extras import install_hint
from melt.frameworks.base import FrameworkDefaults
from melt.frameworks.chat_template import CHATML_TEMPLATE, ChatTemplate
from melt.frameworks.common import ChatEngine, Generation, generate, rss_bytes
from melt.frameworks.ort_genai.providers import available, check_provider, compute_use
from melt.frameworks.ort_genai.settings import OrtGenAISettings
from melt.models import Artifact, resolve_model
from melt.models.hf import is_hf_dir
from melt.models.ort_export import (
    DEFAULT_PRECISION,
    ORT_FORMAT,
    export_ort_genai,
    export_params,
    validate_ort_folder,
)
from melt.traces import LoadTrace

NAME = "onnxruntime-genai"
TEMPLATE_FILE = "chat_template.jinja"


def import_og() -> Any:
    try:
        import onnxruntime_genai as og
    except ImportError:
        raise MeltError(f"ONNX Runtime GenAI is not installed: {install_hint('ort')}") from None
    return og


def ort_version() -> str:
    return f"onnxruntime-genai {importlib.metadata.version('onnxruntime-genai')}"


def load_config(folder: Path, threads: int, engine: OrtGenAISettings) -> Any:
    """An `og.Config` for the folder with the thread count and the execution provider."""
    og = import_og()
    check_provider(engine.provider)
    validate_ort_folder(folder)
    config = og.Config(str(folder))
    session = {"intra_op_num_threads": threads, "inter_op_num_threads": 1}
    config.overlay(json.dumps({"model": {"decoder": {"session_options": session}}}))
    if engine.provider != "cpu":
        config.clear_providers()
        config.append_provider(engine.provider)
    elif engine.provider_options:
        raise MeltError("--provider-option needs an execution provider other than cpu (--provider)")
    for key, value in engine.provider_options.items():
        config.set_provider_option(engine.provider, key, value)
    return config


def load_model(folder: Path, threads: int, engine: OrtGenAISettings) -> Any:
    og = import_og()
    config = load_config(folder, threads, engine)
    try:
        return og.Model(config)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MeltError(
            f"ONNX Runtime GenAI could not load '{folder}' with provider "
            f"'{engine.provider}': {first}"
        ) from None


def search_options(settings: RunSettings, max_length: int) -> dict[str, Any]:
    """GenAI's search options for melt's sampling settings (greedy when temperature is 0)."""
    s: SamplingSettings = settings.sampling
    options: dict[str, Any] = {
        "max_length": max_length,
        "repetition_penalty": s.repeat_penalty,
        "random_seed": s.seed,
    }
    if s.temperature == 0:
        return {**options, "do_sample": False}
    return {
        **options,
        "do_sample": True,
        "temperature": s.temperature,
        "top_k": s.top_k if s.top_k > 0 else 0,
        "top_p": s.top_p,
    }


def chat_template(folder: Path) -> ChatTemplate:
    path = folder / TEMPLATE_FILE
    source = path.read_text(encoding="utf-8") if path.is_file() else CHATML_TEMPLATE
    return ChatTemplate(source)


class OrtGenAIEngine(ChatEngine):
    """An ONNX Runtime GenAI model serving one conversation at a time, its KV cache kept
    between the turns of a conversation."""

    def __init__(self, artifact: Artifact, settings: RunSettings) -> None:
        self.og = import_og()
        engine = settings.engine_as(OrtGenAISettings, NAME)
        self.settings = settings
        folder = artifact.path
        config = validate_ort_folder(folder)
        rss_before = rss_bytes()
        start = time.monotonic_ns()
        self._model = load_model(folder, settings.threads, engine)
        self._tokenizer = self.og.Tokenizer(self._model)
        load_ns = time.monotonic_ns() - start
        self._template = chat_template(folder)
        self._eos = {int(t) for t in self._tokenizer.eos_token_ids}
        trained = int(config["model"].get("context_length") or settings.ctx)
        self.n_ctx = min(settings.ctx, trained)
        self._params = self.og.GeneratorParams(self._model)
        self._params.set_search_options(**search_options(settings, self.n_ctx))
        self._generator: Any = None
        self._cached: list[int] = []  # tokens whose KV entries the generator holds
        self.load = LoadTrace(
            load_ns=load_ns,
            model_bytes=artifact.size_bytes,
            model_params=export_params(artifact),  # recorded at export; None if unknown
            rss_before_bytes=rss_before,
            rss_after_bytes=rss_bytes(),
            context_tokens=self.n_ctx,
            system_info=system_info(engine, settings),
            compute=compute_use(check_provider(engine.provider)),
        )

    def tokenize(self, text: str) -> list[int]:
        return [int(t) for t in self._tokenizer.encode(text)]

    def reset(self) -> None:
        """A fresh generator: conversations are independent."""
        self._generator = self.og.Generator(self._model, self._params)
        self._cached = []

    def _keep(self, reused: int) -> int:
        if reused < self._generator.token_count():
            self._generator.rewind_to(reused)
        return reused

    def _prefill(self, pending: list[int]) -> None:
        self._generator.append_tokens(np.asarray(pending, dtype=np.int32))

    def _generate(self, room: int) -> Generation:
        step, next_tokens = self._generator.generate_next_token, self._generator.get_next_tokens

        def sample() -> int:
            step()  # runs the model on the previous token first, when it has not been
            return int(next_tokens()[0])

        return generate(
            sample,
            lambda _token: None,  # the next `generate_next_token` runs it
            self._eos.__contains__,
            self.settings.max_new_tokens,
            room,
        )

    def _detokenize(self, tokens: list[int]) -> str:
        return self._tokenizer.decode(np.asarray(tokens, dtype=np.int32)) if tokens else ""

    def close(self) -> None:
        self._generator = None
        self._params = None
        self._tokenizer = None
        self._model = None


def system_info(engine: OrtGenAISettings, settings: RunSettings) -> str:
    options = ",".join(f"{k}={v}" for k, v in sorted(engine.provider_options.items()))
    parts = [
        ort_version(),
        f"execution provider {engine.provider}" + (f" ({options})" if options else ""),
        f"intra_op_num_threads {settings.threads}",
    ]
    if settings.sampling.temperature > 0 and settings.sampling.min_p > 0:
        parts.append(f"min_p {settings.sampling.min_p} not applied (no min-p sampler)")
    return "; ".join(parts)


def ort_variant(spec: str, quant: str | None, on_step: Callable[[str], None]) -> Artifact:
    """The ONNX Runtime GenAI model for what the user typed: an exported folder as is, else
    the export of the named model at `quant` (int4 by default), made and cached on first
    use (saying so through `on_step`)."""
    local = Path(spec).expanduser()
    if local.is_dir() and not is_hf_dir(local):
        validate_ort_folder(local)  # one line saying what the folder lacks
    artifact = resolve_model(spec)
    if artifact.format == ORT_FORMAT:
        if quant is not None and quant != artifact.quant:
            raise MeltError(
                f"--quant {quant}: '{spec}' is an exported {artifact.quant} model; "
                "pass the model name to export another precision"
            )
        return artifact
    return export_ort_genai(artifact, quant or DEFAULT_PRECISION, on_step).artifact


class OrtGenAI(FrameworkDefaults):
    name = NAME

    def version(self) -> str:
        import_og()
        return ort_version()

    def system_info(self) -> str:
        import_og()
        return f"{ort_version()}; providers built in: " + ", ".join(d.name for d in available())

    def compute_devices(self) -> tuple[ComputeDevice, ...]:
        """The execution providers the installed ONNX Runtime build has."""
        import_og()
        return available()

    def load(self, artifact: Artifact, settings: RunSettings) -> OrtGenAIEngine:
        return OrtGenAIEngine(artifact, settings)

    def variant(self, spec: str, quant: str | None, on_step: Callable[[str], None]) -> Artifact:
        return ort_variant(spec, quant, on_step)

    def tokenizer(self, artifact: Artifact) -> Callable[[str], list[int]]:
        og = import_og()
        validate_ort_folder(artifact.path)
        tokenizer = og.Tokenizer(og.Model(og.Config(str(artifact.path))))
        return lambda text: [int(t) for t in tokenizer.encode(text)]
