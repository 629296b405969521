"""Importers by name, and detection of a path's format by its content."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from pathlib import Path

from melt.errors import MeltError
from melt.files import ARCHIVE_HEAD_BYTES, refuse_archive
from melt.traces.importers.base import Importer, ImportResult, check_result, read_head
from melt.traces.importers.sources import scope

AUTO = "auto"
# Modules that register an importer, in detection order: folders first, then the formats
# whose markers are most specific.
FORMAT_MODULES = (
    "melt_run",
    "tvm_log",
    "llamacpp_log",
    "mlc_stats",
    "llmfarm",
    "jetson",
    "monsoon",
    "melt_events",
)

_IMPORTERS: dict[str, Importer] = {}


def register(factory: Callable[[], Importer]) -> Callable[[], Importer]:
    """Class decorator: instantiate and register an importer under its `name`."""
    importer = factory()
    _IMPORTERS[importer.name] = importer
    return factory


def _load() -> None:
    for module in FORMAT_MODULES:
        import_module(f"melt.traces.importers.{module}")


def names() -> list[str]:
    _load()
    return list(_IMPORTERS)


def get(name: str) -> Importer:
    _load()
    if name not in _IMPORTERS:
        raise MeltError(
            f"unknown import format '{name}' (choose auto or one of: {', '.join(_IMPORTERS)})"
        )
    return _IMPORTERS[name]


def detect(path: Path, exclude: tuple[str, ...] = ()) -> Importer | None:
    """The first importer that recognises the content at `path`, or None."""
    _load()
    folder = path.is_dir()
    head = "" if folder else read_head(path)
    for name, importer in _IMPORTERS.items():
        if name in exclude or importer.reads_folders != folder:
            continue
        if importer.sniff(path, head):
            return importer
    return None


def read(path: Path, format: str = AUTO) -> ImportResult:
    """Read `path` with the named importer, or the detected one; a path with nothing
    recognisable is a `MeltError`."""
    if not path.exists():
        raise MeltError(f"'{path}' not found (pass a MELT log, capture or results folder)")
    if path.is_file():
        with path.open("rb") as fh:
            refuse_archive(path, fh.read(ARCHIVE_HEAD_BYTES), "import source")
    with scope(path):  # every file read from here on stays inside what the user named
        importer = get(format) if format != AUTO else detect(path)
        if importer is None:
            raise MeltError(
                f"nothing recognisable in '{path}' (formats: {', '.join(names())}); "
                "pass --format to force one"
            )
        if path.is_dir() != importer.reads_folders:
            kind = "a folder" if path.is_dir() else "a file"
            raise MeltError(
                f"'{path}' is {kind}, which --format {importer.name} does not read "
                "(melt-run reads folders, every other format reads files)"
            )
        return check_result(importer.read(path), path, importer.description)
