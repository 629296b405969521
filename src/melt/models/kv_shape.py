"""The KV cache's shape from a GGUF header (layers, KV heads, head width): with the weights'
size, what one decoded token reads, for the roofline. Recorded with each run at bench time,
so a report needs only the store, not the model file."""

from __future__ import annotations

from pathlib import Path


def kv_shape_of(path: Path) -> dict[str, int] | None:
    """`n_layer`, `n_head_kv` and `head_dim` from a GGUF file's header; None when the file is
    not GGUF or does not say."""
    from melt.models.gguf_header import NotGguf, read_metadata

    if not path.is_file():
        return None
    try:
        meta = read_metadata(path)
    except (OSError, NotGguf):
        return None
    arch = meta.get("general.architecture")

    def num(key: str) -> int | None:
        value = meta.get(f"{arch}.{key}")
        return None if value is None else int(value)

    layers, heads = num("block_count"), num("attention.head_count")
    kv_heads = num("attention.head_count_kv") or heads
    head_dim = num("attention.key_length")
    width = num("embedding_length")
    if head_dim is None and width and heads:
        head_dim = width // heads
    if not (layers and kv_heads and head_dim):
        return None
    return {"n_layer": layers, "n_head_kv": kv_heads, "head_dim": head_dim}
