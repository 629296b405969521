"""Quantized variants of a model, made with llama.cpp's quantize API and cached.

`get_variant(artifact, "q4_0")` always quantizes from the highest-precision source in the
artifact's lineage: the float original when there is one, else an F16 expansion of the lossy
root (see `melt.models.dequantize`), recorded as re-quantized from that root. Asking a lossy
root for F32 gives its exact F32 expansion (the reference for accuracy comparisons). A variant that
exists in the cache (same parent, same target, same tool version) is returned without work.
"""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from melt.errors import MeltError
from melt.llama_backend import init_backend, take_last_error
from melt.models import cache
from melt.models.artifact import Artifact, Origin
from melt.models.dequantize import dequantize_gguf
from melt.models.dequantize import tool_version as dequantize_version
from melt.models.gguf_file import n_params, quant_name, validate_gguf
from melt.models.quant_types import QUANT_TYPES, is_float, parse_quants
from melt.models.resolve import bundled_by_sha256

log = logging.getLogger(__name__)

MADE = "made"
REUSED = "reused from cache"
UNCHANGED = "unchanged (already this type)"

# Upper bounds of bits per weight for the free-space check (1-D tensors stay F32).
_BITS = {"f32": 32, "bf16": 16, "f16": 16, "q8_0": 8.5, "q6_k": 6.6, "q5_1": 6.0, "q4_1": 5.0}

Step = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Variant:
    artifact: Artifact
    action: str


def _llama_version() -> str:
    import llama_cpp

    return f"llama-cpp-python {llama_cpp.__version__}"


def lineage_root(artifact: Artifact) -> Artifact:
    """The artifact every weight of `artifact` descends from (itself if not derived here)."""
    seen = {artifact.sha256}
    current = artifact
    while current.origin.parent_sha256:
        parent = cache.load(current.origin.parent_sha256)
        if parent is None:
            parent = bundled_by_sha256(current.origin.parent_sha256)
        if parent is None or parent.sha256 in seen:
            break
        seen.add(parent.sha256)
        current = parent
    return current


def _estimated_bytes(path: Path, target: str) -> int:
    return int(n_params(path) * _BITS.get(target, 6.0) / 8)


def _expansion(root: Artifact, float_type: str, on_step: Step) -> tuple[Artifact, str]:
    """The F16 or F32 expansion of a lossy root: from the cache, or made now."""
    version = dequantize_version()
    found = cache.find_derived(root.sha256, float_type, version)
    if found is not None:
        return found, REUSED
    label = float_type.upper()
    on_step(f"dequantizing {root.quant} → {label} with {version}")
    cache.check_free_space(_estimated_bytes(root.path, float_type))
    with cache.temp_file() as tmp:
        try:
            dequantize_gguf(root.path, tmp, float_type)
        except OSError as exc:
            raise cache.write_error(exc, f"{root.name} {label}") from None
        origin = Origin(
            source="derived",
            tool="gguf dequantize",
            tool_version=version,
            parent_sha256=root.sha256,
            requantized_from=root.quant,
        )
        made = cache.add(
            tmp,
            root.name,
            label,
            origin,
            {"parent_sha256": root.sha256, "target": float_type, "tool_version": version},
        )
    return made, MADE


def best_source(artifact: Artifact, on_step: Step) -> tuple[Artifact, str]:
    """The highest-precision artifact in the lineage to quantize from."""
    root = lineage_root(artifact)
    if is_float(root.quant):
        return root, UNCHANGED
    return _expansion(root, "f16", on_step)


def _quantize(source: Artifact, target: str, out: Path, threads: int) -> None:
    import llama_cpp as llama

    init_backend()
    params = llama.llama_model_quantize_default_params()
    params.ftype = QUANT_TYPES[target]
    params.nthread = threads
    status = llama.llama_model_quantize(
        str(source.path).encode(), str(out).encode(), ctypes.byref(params)
    )
    if status != 0:
        reason = take_last_error() or f"status {status}; run with -v to see llama.cpp's log"
        raise MeltError(
            f"llama.cpp could not quantize '{source.path}' to {target} ({reason}); "
            "if the disk is full, free space or set MELT_CACHE to a larger disk "
            "(no partial file was kept)"
        )


def make_variant(
    artifact: Artifact, quant: str, *, threads: int = 0, on_step: Step | None = None
) -> Variant:
    """`artifact` as `quant`: unchanged, reused from the cache, or quantized now."""
    step = on_step or (lambda message: log.info("%s", message))
    target = parse_quants([quant], "--quant")[0]
    if artifact.quant.lower() == target:
        return Variant(artifact, UNCHANGED)
    root = lineage_root(artifact)
    if target == "f32" and not is_float(root.quant):
        found, action = _expansion(root, "f32", step)
        return Variant(found, action)
    source, source_action = best_source(artifact, step)
    if source.quant.lower() == target:
        return Variant(source, source_action if source_action == MADE else REUSED)
    version = _llama_version()
    found = cache.find_derived(source.sha256, target, version)
    if found is not None:
        return Variant(found, REUSED)
    step(f"quantizing {source.quant} → {target.upper()} with llama.cpp ({version})")
    cache.check_free_space(_estimated_bytes(source.path, target))
    with cache.temp_file() as tmp:
        _quantize(source, target, tmp, threads)
        origin = Origin(
            source="derived",
            tool="llama.cpp llama_model_quantize",
            tool_version=version,
            parent_sha256=source.sha256,
            requantized_from=source.origin.requantized_from,
        )
        made = cache.add(
            tmp,
            source.name,
            quant_name(validate_gguf(tmp)),
            origin,
            {"parent_sha256": source.sha256, "target": target, "tool_version": version},
        )
    return Variant(made, MADE)


def get_variant(artifact: Artifact, quant: str) -> Artifact:
    return make_variant(artifact, quant).artifact
