"""melt's own code as one zipapp, so a device always runs the controller's exact code.

The archive holds every module of the installed `melt` package (no caches, no data melt
does not need there) with fixed timestamps, so the same code always gives the same bytes and
the same content hash: the device keeps `runner-<sha256[:16]>.pyz` and a second run pushes
nothing.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import melt

MAIN = "import sys\nfrom melt.runners.agent import main\nsys.exit(main())\n"
_FIXED_TIME = (2020, 1, 1, 0, 0, 0)
_SKIP_DIRS = {"__pycache__", "data"}


@dataclass(frozen=True, slots=True)
class RunnerArchive:
    data: bytes
    sha256: str

    @property
    def file_name(self) -> str:
        return f"runner-{self.sha256[:16]}.pyz"


@lru_cache(maxsize=1)
def runner_archive() -> RunnerArchive:
    package = Path(melt.__file__).parent
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        _add(zf, "__main__.py", MAIN.encode())
        for path in sorted(package.rglob("*.py")):
            rel = path.relative_to(package)
            if _SKIP_DIRS.intersection(rel.parts[:-1]):
                continue
            _add(zf, f"melt/{rel.as_posix()}", path.read_bytes())
    data = buffer.getvalue()
    return RunnerArchive(data, hashlib.sha256(data).hexdigest())


def _add(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    zf.writestr(info, data)
