"""Decode against the memory-bandwidth bound.

Generating one token reads every weight once and the KV cache up to the current depth, so
decode cannot beat bandwidth ÷ (weight bytes + KV bytes at depth). KV bytes per token of
context = 2 (K and V) × n_layer × n_head_kv × head_dim × 2 bytes (f16 cache, llama.cpp's
default). Weight bytes are all tensor bytes of the file: the token-embedding table is read a
row per token, so with untied embeddings the bound is a little low (conservative).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

F16_BYTES = 2


@dataclass(frozen=True, slots=True)
class KvShape:
    n_layer: int
    n_head_kv: int
    head_dim: int
    bytes_per_element: int = F16_BYTES

    @property
    def bytes_per_token(self) -> int:
        return 2 * self.n_layer * self.n_head_kv * self.head_dim * self.bytes_per_element


@dataclass(frozen=True, slots=True)
class Roofline:
    bandwidth_bytes_per_s: float
    bandwidth_method: str
    weight_bytes: int
    kv_bytes: float
    depth_tokens: float
    bound_tok_per_s: float
    decode_tok_per_s: float

    @property
    def fraction_of_limit(self) -> float:
        return self.decode_tok_per_s / self.bound_tok_per_s

    def as_dict(self) -> dict[str, Any]:
        return {
            "bandwidth_bytes_per_s": self.bandwidth_bytes_per_s,
            "bandwidth_method": self.bandwidth_method,
            "weight_bytes": self.weight_bytes,
            "kv_bytes_at_depth": self.kv_bytes,
            "depth_tokens": self.depth_tokens,
            "bytes_per_generated_token": self.weight_bytes + self.kv_bytes,
            "bound_tok_per_s": self.bound_tok_per_s,
            "decode_tok_per_s": self.decode_tok_per_s,
            "percent_of_limit": 100 * self.fraction_of_limit,
        }


def roofline(
    decode_tok_per_s: float,
    depth_tokens: float,
    weight_bytes: int,
    kv: KvShape,
    bandwidth_bytes_per_s: float,
    bandwidth_method: str,
) -> Roofline:
    kv_bytes = kv.bytes_per_token * depth_tokens
    return Roofline(
        bandwidth_bytes_per_s=bandwidth_bytes_per_s,
        bandwidth_method=bandwidth_method,
        weight_bytes=weight_bytes,
        kv_bytes=kv_bytes,
        depth_tokens=depth_tokens,
        bound_tok_per_s=bandwidth_bytes_per_s / (weight_bytes + kv_bytes),
        decode_tok_per_s=decode_tok_per_s,
    )


def decode_depth(prompt_tokens: int, generated_tokens: int) -> float:
    """Mean context length over a turn's decode steps: the prompt plus, on average, half of
    the generated tokens."""
    return prompt_tokens + generated_tokens / 2


FLOPS_PER_PARAM = 2  # one multiply and one add per weight per token


@dataclass(frozen=True, slots=True)
class ComputeBound:
    """Prefill against the compute bound: a prompt token costs about 2 FLOPs per weight
    (attention over the prompt adds a little more, so the bound is a little high)."""

    peak_flops_per_s: float
    peak_source: str
    params: int
    bound_tok_per_s: float
    prefill_tok_per_s: float

    @property
    def fraction_of_limit(self) -> float:
        return self.prefill_tok_per_s / self.bound_tok_per_s

    def as_dict(self) -> dict[str, Any]:
        return {
            "peak_flops_per_s": self.peak_flops_per_s,
            "peak_flops_source": self.peak_source,
            "params": self.params,
            "prefill_bound_tok_per_s": self.bound_tok_per_s,
            "prefill_tok_per_s": self.prefill_tok_per_s,
            "prefill_percent_of_compute_limit": 100 * self.fraction_of_limit,
        }


def compute_bound(
    prefill_tok_per_s: float, params: int, peak_flops_per_s: float, peak_source: str
) -> ComputeBound:
    return ComputeBound(
        peak_flops_per_s=peak_flops_per_s,
        peak_source=peak_source,
        params=params,
        bound_tok_per_s=peak_flops_per_s / (FLOPS_PER_PARAM * params),
        prefill_tok_per_s=prefill_tok_per_s,
    )
