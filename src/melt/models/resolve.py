"""Turn what a user typed after `--model` into an `Artifact`."""

from __future__ import annotations

from pathlib import Path

from melt.errors import MeltError
from melt.models.artifact import Artifact, Origin, sha256_of
from melt.models.bundled import BUNDLED
from melt.models.gguf_file import quant_name, validate_gguf


def _looks_like_path(spec: str) -> bool:
    return spec.endswith(".gguf") or "/" in spec or "\\" in spec or Path(spec).exists()


def resolve_model(spec: str) -> Artifact:
    """Resolve a bundled model name or a path to a GGUF file into a validated artifact."""
    if spec in BUNDLED:
        path = BUNDLED[spec].locate()
        name, origin = spec, Origin(source="bundled", note=f"package {BUNDLED[spec].package}")
    elif _looks_like_path(spec):
        path = Path(spec).expanduser()
        name, origin = path.stem, Origin(source="file")
    else:
        known = ", ".join(sorted(BUNDLED))
        raise MeltError(
            f"unknown model '{spec}' (known names: {known}; or pass a path to a .gguf file)"
        )
    reader = validate_gguf(path)
    resolved = path.resolve()
    return Artifact(
        name=name,
        path=resolved,
        format="gguf",
        quant=quant_name(reader),
        sha256=sha256_of(resolved),
        size_bytes=resolved.stat().st_size,
        origin=origin,
    )
