"""A float GGUF → a Hugging Face model folder (float32 safetensors + tokenizer), with
transformers' own GGUF loader.

Run as a script (`python -m melt.models.gguf_to_hf GGUF OUT`) by `melt.models.ort_export`,
so torch and the 1.2 GB the load peaks at never enter melt's own process (a `melt bench`
that exports on first use measures its engine's memory afterwards).

transformers marks a model loaded from GGUF as "quantized with gguf" and refuses to save it,
although every module is a plain float `Linear` after the load; clearing the quantizer and
the config's `quantization_config` makes it an ordinary float checkpoint.
"""

from __future__ import annotations

import sys
from pathlib import Path


def gguf_to_hf(gguf_path: Path, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_path.parent), gguf_path.name
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m melt.models.gguf_to_hf GGUF OUT_DIR", file=sys.stderr)
        return 2
    gguf_to_hf(Path(argv[0]), Path(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
