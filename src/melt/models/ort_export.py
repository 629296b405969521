"""A model → an ONNX Runtime GenAI folder (ONNX graph + weights + genai_config.json +
tokenizer), made offline and cached.

The export starts from the highest-precision file in the artifact's lineage: a float root
as is, else the exact F32 expansion of the lossy root (`make_variant(root, "f32")`; for the
bundled Q4_1 that is `d * q + m` for every weight). Two tools then do the work, each in its
own process so torch never enters melt's: transformers turns the float GGUF into a Hugging
Face folder (`melt.models.gguf_to_hf`), and onnxruntime-genai's model builder turns that into
an ONNX model (`python -m onnxruntime_genai.models.builder -i HF -o OUT -p int4|fp32 -e cpu`;
int4 is its own block-wise quantizer, MatMulNBits with 32-weight blocks).

The lineage is recorded: the result's parent is the F32 file, whose parent is the Q4_1, and
the tool versions are in its provenance. A cached export (same parent, same precision, same
onnxruntime-genai) is reused without the converter's dependencies being installed: running
needs only `melt-bench[ort]`, exporting needs `melt-bench[convert]`.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import logging
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from melt.errors import MeltError
from melt.extras import install_hint
from melt.models import cache
from melt.models.artifact import Artifact, Origin
from melt.models.gguf_file import n_params
from melt.models.quant_types import is_float

log = logging.getLogger(__name__)

ORT_FORMAT = "ort-genai"
GENAI_CONFIG = "genai_config.json"
PRECISIONS = ("int4", "fp32")
DEFAULT_PRECISION = "int4"
BUILDER = "onnxruntime_genai.models.builder"
# Import name → distribution name of everything the export runs.
CONVERT_MODULES = {
    "torch": "torch",
    "transformers": "transformers",
    "accelerate": "accelerate",
    "gguf": "gguf",
    "onnx": "onnx",
    "onnx_ir": "onnx-ir",
    "onnxruntime_genai": "onnxruntime-genai",
}
# Upper bounds of the result's size per parameter, for the free-space check: the F32 HF
# folder and the builder's output exist side by side while it runs.
_BYTES_PER_PARAM = {"int4": 4 + 1.0, "fp32": 4 + 4.2}
_ERROR_TAIL_LINES = 3

Step = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Export:
    artifact: Artifact
    action: str


def is_ort_folder(path: Path) -> bool:
    return path.is_dir() and (path / GENAI_CONFIG).is_file()


def validate_ort_folder(path: Path) -> dict:
    """The folder's genai_config.json, or a one-line error saying what the folder lacks."""
    if not path.is_dir():
        raise MeltError(f"'{path}' is not a folder (an ONNX Runtime GenAI model is a folder)")
    config_path = path / GENAI_CONFIG
    if not config_path.is_file():
        raise MeltError(
            f"'{path}' is not an ONNX Runtime GenAI model: it has no {GENAI_CONFIG} "
            "(make one with 'melt models export NAME --format ort-genai')"
        )
    try:
        config = json.loads(config_path.read_text())
        graph = config["model"]["decoder"]["filename"]
    except (OSError, ValueError, KeyError, TypeError):
        raise MeltError(
            f"'{config_path}' is not a valid {GENAI_CONFIG} (no model.decoder.filename)"
        ) from None
    if not (path / graph).is_file():
        raise MeltError(f"'{path}' is not a complete ONNX Runtime GenAI model: {graph} is missing")
    return dict(config)


def export_params(artifact: Artifact) -> int | None:
    """The parameters of an export melt made, as counted at export in the GGUF it was made
    from (the builder changes their precision, not their number; counting them in the graph
    would need `onnx`, which running does not have); None for a folder melt did not make,
    or made before it recorded the count."""
    count = cache.derivation(artifact.sha256).get("n_params")
    return None if count is None else int(count)


def parse_precision(precision: str) -> str:
    value = precision.strip().lower()
    if value not in PRECISIONS:
        raise MeltError(f"--precision: unknown '{precision}' (valid: {', '.join(PRECISIONS)})")
    return value


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a module set to None in sys.modules is "blocked"
        return False


def require_convert_deps() -> None:
    missing = [dist for module, dist in CONVERT_MODULES.items() if not _installed(module)]
    if missing:
        raise MeltError(
            f"exporting to ONNX Runtime GenAI needs {', '.join(missing)}: {install_hint('convert')}"
        )


def _version(dist: str) -> str:
    return f"{dist} {importlib.metadata.version(dist)}"


def builder_version() -> str:
    """The version the cache keys exports on (the builder is part of onnxruntime-genai)."""
    try:
        return _version("onnxruntime-genai")
    except importlib.metadata.PackageNotFoundError:
        raise MeltError(f"ONNX Runtime GenAI is not installed: {install_hint('ort')}") from None


def _target(precision: str) -> str:
    return f"{ORT_FORMAT}-{precision}"


def float_source(artifact: Artifact, on_step: Step) -> Artifact:
    """The highest-precision file in the lineage: the float root, or the exact F32
    expansion of a lossy root (made and cached on first use)."""
    from melt.models.quantize import lineage_root, make_variant

    root = lineage_root(artifact)
    if is_float(root.quant):
        return root
    return make_variant(root, "f32", on_step=on_step).artifact


def cached_export(artifact: Artifact, precision: str) -> Artifact | None:
    """An export of `artifact`'s float source at `precision`, if one is cached (found
    without making the F32 expansion)."""
    from melt.models.quantize import lineage_root

    version = builder_version()
    root = lineage_root(artifact)
    parents = [root.sha256]
    if not is_float(root.quant):
        parents = [
            a.sha256
            for a, meta in cache.entries()
            if (meta.get("derivation") or {}).get("parent_sha256") == root.sha256
            and (meta.get("derivation") or {}).get("target") == "f32"
        ]
    for parent in parents:
        found = cache.find_derived(parent, _target(precision), version)
        if found is not None:
            return found
    return None


def _run(argv: list[str], what: str, log_path: Path) -> None:
    log.info("%s: %s", what, " ".join(argv))
    with log_path.open("w") as out:
        status = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, check=False)
    if status.returncode != 0:
        tail = log_path.read_text(errors="replace").strip().splitlines()[-_ERROR_TAIL_LINES:]
        raise MeltError(
            f"{what} failed (exit {status.returncode}): {' | '.join(tail)} "
            "(if the disk is full, free space or set MELT_CACHE; no partial model was kept)"
        )


def export_ort_genai(
    artifact: Artifact, precision: str = DEFAULT_PRECISION, on_step: Step | None = None
) -> Export:
    """`artifact` as an ONNX Runtime GenAI model at `precision`: from the cache, or made."""
    from melt.models.quantize import MADE, REUSED, lineage_root

    step = on_step or (lambda message: log.info("%s", message))
    precision = parse_precision(precision)
    if artifact.format == ORT_FORMAT:
        raise MeltError(f"'{artifact.path}' is already an ONNX Runtime GenAI model")
    found = cached_export(artifact, precision)
    if found is not None:
        return Export(found, REUSED)
    require_convert_deps()
    root = lineage_root(artifact)
    source = float_source(artifact, step)
    version = builder_version()
    tools = "; ".join(_version(d) for d in ("transformers", "torch", "onnx", "onnx-ir"))
    params = n_params(source.path)
    cache.check_free_space(int(params * _BYTES_PER_PARAM[precision]))
    with (
        cache.temp_folder(f".{ORT_FORMAT}") as out,
        tempfile.TemporaryDirectory(prefix=".export-", dir=cache.models_dir()) as work,
    ):
        work_dir = Path(work)
        hf_dir = work_dir / "hf"
        step(f"GGUF {source.quant} → Hugging Face float32 folder with transformers")
        _run(
            [sys.executable, "-m", "melt.models.gguf_to_hf", str(source.path), str(hf_dir)],
            "the GGUF → Hugging Face conversion",
            work_dir / "gguf_to_hf.log",
        )
        step(f"Hugging Face → ONNX {precision} with the onnxruntime-genai model builder")
        _run(
            [
                *(sys.executable, "-m", BUILDER),
                *("-i", str(hf_dir), "-o", str(out), "-p", precision, "-e", "cpu"),
                *("-c", str(work_dir / "builder-cache")),
            ],
            "the onnxruntime-genai model builder",
            work_dir / "builder.log",
        )
        validate_ort_folder(out)
        origin = Origin(
            source="derived",
            tool="onnxruntime-genai model builder",
            tool_version=version,
            parent_sha256=source.sha256,
            requantized_from="" if is_float(root.quant) else root.quant,
            note=f"{root.quant} → {source.quant} (gguf) → Hugging Face float32 ({tools}) "
            f"→ ONNX {precision}",
        )
        made = cache.add_folder(
            out,
            artifact.name,
            ORT_FORMAT,
            precision,
            origin,
            {
                "parent_sha256": source.sha256,
                "target": _target(precision),
                "tool_version": version,
                "n_params": params,
            },
        )
    return Export(made, MADE)
