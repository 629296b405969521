"""What a GGUF file really holds, read with the `gguf` package.

The file type a GGUF declares (`general.file_type`) is what was *asked* of the quantizer;
llama.cpp falls back to other types for tensors whose rows do not split into the type's
blocks (SmolLM2-135M's width 576 is not a multiple of the k-quants' 256), so the tensor-type
histogram and the effective bits per weight are what tell the truth.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from melt.models.gguf_file import field_value, quant_name, validate_gguf


@dataclass(frozen=True, slots=True)
class TensorTypeCount:
    ggml_type: str
    tensors: int
    elements: int
    bytes: int


@dataclass(frozen=True, slots=True)
class ModelInfo:
    path: Path
    file_type: str
    architecture: str
    name: str
    parameters: int
    layers: int | None
    embedding_width: int | None
    context_length: int | None
    vocabulary: int | None
    chat_template: bool
    add_bos_token: bool | None
    tensor_types: tuple[TensorTypeCount, ...]
    tensor_bytes: int
    file_size_bytes: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def bits_per_weight(self) -> float:
        """Effective bits per weight over every tensor (norms and embeddings included)."""
        return 8 * self.tensor_bytes / self.parameters if self.parameters else 0.0

    def type_mix(self) -> str:
        """'Q4_0 ×84, Q8_0 ×1, F32 ×61' — the types written, most bytes first."""
        return ", ".join(f"{t.ggml_type} ×{t.tensors}" for t in self.tensor_types)


def _array_length(reader: Any, key: str) -> int | None:
    entry = reader.fields.get(key)
    return None if entry is None else len(entry.data)


def inspect_gguf(path: Path) -> ModelInfo:
    reader = validate_gguf(path)
    arch = str(field_value(reader, "general.architecture", "unknown"))
    counts: Counter[str] = Counter()
    elements: Counter[str] = Counter()
    nbytes: Counter[str] = Counter()
    for tensor in reader.tensors:
        kind = tensor.tensor_type.name
        counts[kind] += 1
        elements[kind] += int(tensor.n_elements)
        nbytes[kind] += int(tensor.n_bytes)
    types = tuple(
        TensorTypeCount(kind, counts[kind], elements[kind], nbytes[kind])
        for kind in sorted(counts, key=lambda k: -nbytes[k])
    )

    def arch_int(key: str) -> int | None:
        value = field_value(reader, f"{arch}.{key}")
        return None if value is None else int(value)

    add_bos = field_value(reader, "tokenizer.ggml.add_bos_token")
    return ModelInfo(
        path=path,
        file_type=quant_name(reader),
        architecture=arch,
        name=str(field_value(reader, "general.name", "")),
        parameters=sum(elements.values()),
        layers=arch_int("block_count"),
        embedding_width=arch_int("embedding_length"),
        context_length=arch_int("context_length"),
        vocabulary=_array_length(reader, "tokenizer.ggml.tokens"),
        chat_template="tokenizer.chat_template" in reader.fields,
        add_bos_token=None if add_bos is None else bool(add_bos),
        tensor_types=types,
        tensor_bytes=sum(nbytes.values()),
        file_size_bytes=path.stat().st_size,
    )
