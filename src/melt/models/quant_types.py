"""The quantization types melt can make, by the names llama.cpp's `llama-quantize` uses.

Numbers are llama.cpp's `llama_ftype` values (mirrored by `gguf.LlamaFileType`). Types that
need an importance matrix (the IQ family) are left out: llama.cpp refuses them without one.
"""

from __future__ import annotations

from melt.errors import MeltError

# name → llama_ftype, from most to least precise.
QUANT_TYPES: dict[str, int] = {
    "f32": 0,
    "bf16": 32,
    "f16": 1,
    "q8_0": 7,
    "q6_k": 18,
    "q5_k_m": 17,
    "q5_k_s": 16,
    "q5_1": 9,
    "q5_0": 8,
    "q4_k_m": 15,
    "q4_k_s": 14,
    "q4_1": 3,
    "q4_0": 2,
    "q3_k_l": 13,
    "q3_k_m": 12,
    "q3_k_s": 11,
    "q2_k": 10,
}

FLOAT_TYPES = ("f32", "bf16", "f16")


def precision_rank(quant: str) -> int:
    """Lower is more precise; unknown types rank after every known one."""
    names = list(QUANT_TYPES)
    key = quant.lower()
    return names.index(key) if key in names else len(names)


def is_float(quant: str) -> bool:
    return quant.lower() in FLOAT_TYPES


def parse_quants(text: str | list[str], flag: str = "--to") -> list[str]:
    """Validated, lower-case, de-duplicated quantization names in the order given."""
    parts = text.split(",") if isinstance(text, str) else text
    names: list[str] = []
    for part in (p.strip().lower() for p in parts):
        if not part:
            continue
        if part not in QUANT_TYPES:
            raise MeltError(
                f"{flag}: unknown quantization '{part}' (valid: {', '.join(QUANT_TYPES)})"
            )
        if part not in names:
            names.append(part)
    if not names:
        raise MeltError(f"{flag}: name at least one quantization (valid: {', '.join(QUANT_TYPES)})")
    return names
