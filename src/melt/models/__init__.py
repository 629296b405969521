"""The model zoo: where model files come from and what they are (DESIGN.md: models)."""

from melt.models.artifact import Artifact, Origin
from melt.models.resolve import resolve_model, resolve_variant

__all__ = ["Artifact", "Origin", "resolve_model", "resolve_variant"]
