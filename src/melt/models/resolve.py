"""Turn what a user typed after `--model` into an `Artifact`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from melt.errors import MeltError
from melt.models import cache
from melt.models.artifact import Artifact, Origin, sha256_of
from melt.models.bundled import BUNDLED
from melt.models.gguf_file import quant_name, validate_gguf
from melt.models.hf import convert_hf_dir, is_hf_dir
from melt.models.hub import fetch_hub, is_hub_spec
from melt.models.ort_export import ORT_FORMAT, is_ort_folder, validate_ort_folder

# Sources whose files melt itself wrote into the cache; they are indexed there.
CACHE_SOURCES = ("hf-dir", "hub")

MIN_SHA_PREFIX = 8


def _looks_like_path(spec: str) -> bool:
    return spec.endswith(".gguf") or "/" in spec or "\\" in spec or Path(spec).exists()


def _cached_by_prefix(spec: str) -> Artifact | None:
    """A cached artifact named by a sha256 prefix of at least 8 hex digits."""
    if len(spec) < MIN_SHA_PREFIX or any(c not in "0123456789abcdef" for c in spec.lower()):
        return None
    matches = [a for a, _ in cache.entries() if a.sha256.startswith(spec.lower())]
    if len(matches) > 1:
        raise MeltError(f"sha256 prefix '{spec}' matches {len(matches)} cached models; give more")
    return matches[0] if matches else None


def resolve_model(spec: str) -> Artifact:
    """Resolve what a user typed into a validated artifact: a bundled name, a cached sha256
    prefix, a Hugging Face directory (converted to GGUF once), a Hub id (downloaded once), or
    a path to a GGUF file. A path into the cache keeps the name and provenance it was made
    with."""
    if spec in BUNDLED:
        path = BUNDLED[spec].locate()
        name, origin = spec, Origin(source="bundled", note=f"package {BUNDLED[spec].package}")
    elif (cached := _cached_by_prefix(spec)) is not None:
        if cached.format == ORT_FORMAT:
            validate_ort_folder(cached.path)
        else:
            validate_gguf(cached.path)
        return cached
    elif is_ort_folder(local := Path(spec).expanduser()):
        return _ort_folder(local)
    elif is_hf_dir(local):
        path, origin = convert_hf_dir(local)
        name = local.resolve().name
    elif is_hub_spec(spec) and not local.exists():
        path, origin = fetch_hub(spec)
        name = path.stem
    elif _looks_like_path(spec):
        path = local
        name, origin = path.stem, Origin(source="file")
    else:
        known = ", ".join(sorted(BUNDLED))
        raise MeltError(
            f"unknown model '{spec}' (known names: {known}; a cached sha256 prefix from "
            "'melt models list'; a path to a .gguf file or an ONNX Runtime GenAI folder)"
        )
    reader = validate_gguf(path)
    resolved = path.resolve()
    sha = sha256_of(resolved)
    known = cache.load(sha)
    if known is not None and origin.source == "file":
        return known
    artifact = Artifact(
        name=name,
        path=resolved,
        format="gguf",
        quant=quant_name(reader),
        sha256=sha,
        size_bytes=resolved.stat().st_size,
        origin=origin,
    )
    return cache.register(artifact) if origin.source in CACHE_SOURCES else artifact


def _ort_folder(path: Path) -> Artifact:
    """An ONNX Runtime GenAI folder: the cached entry when melt exported it, else a new
    artifact hashed over its files."""
    from melt.models.artifact import sha256_of_folder, size_of_folder

    validate_ort_folder(path)
    resolved = path.resolve()
    sha = sha256_of_folder(resolved)
    known = cache.load(sha)
    if known is not None:
        return known
    return Artifact(
        name=resolved.name,
        path=resolved,
        format=ORT_FORMAT,
        quant="onnx",
        sha256=sha,
        size_bytes=size_of_folder(resolved),
        origin=Origin(source="folder"),
    )


def bundled_by_sha256(sha256: str) -> Artifact | None:
    """The bundled model whose file has this sha256, if its package is installed."""
    for name, model in BUNDLED.items():
        try:
            path = model.locate()
        except MeltError:
            continue
        if path.is_file() and sha256_of(path.resolve()) == sha256:
            return resolve_model(name)
    return None


def resolve_variant(
    model: str, quant: str | None, on_step: Callable[[str], None] | None = None
) -> Artifact:
    """The artifact for a model name/path and an optional quantization of it (made and
    cached on first use)."""
    artifact = resolve_model(model)
    if quant is None:
        return artifact
    from melt.models.quantize import make_variant

    return make_variant(artifact, quant, on_step=on_step).artifact
