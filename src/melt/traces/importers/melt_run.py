"""MELT's experiment folders: ``<Device>/<App>/<model>/run_cs<ctx>_mgl<gen>[_bs<batch>]/``
holding per-iteration measurement files in any of the other formats.

Each run folder's files are detected by content and grouped by iteration: the number in
``iter<N>`` / ``iteration<N>`` in the file name, else the last ``_<N>`` before the suffix,
else 0. Each iteration becomes one run with the folder's settings (context size, maximum
generated length, batch) and the device, app and model named by the parent folders.
Files no importer recognises are listed, not silently skipped.
"""

from __future__ import annotations

import re
from pathlib import Path

from melt.errors import MeltError
from melt.traces.importers.base import ImportedRun, ImportResult
from melt.traces.importers.registry import detect, register
from melt.traces.importers.sources import check_source, walk

RUN_DIR = re.compile(r"run_cs(?P<ctx>\d+)_mgl(?P<gen>\d+)(?:_bs(?P<batch>\d+))?")
ITERATION = re.compile(r"iter(?:ation)?[_\-]?(\d+)", re.IGNORECASE)
TRAILING_NUMBER = re.compile(r"_(\d+)$")


def iteration_of(file: Path) -> int:
    match = ITERATION.search(file.name) or TRAILING_NUMBER.search(file.stem)
    return int(match.group(1)) if match else 0


Walked = list[tuple[Path, list[Path], list[Path]]]


def run_dirs(walked: Walked) -> list[tuple[Path, list[Path], re.Match[str]]]:
    """Every run folder of a walk (`sources.walk`), with its files and its name parsed."""
    return [
        (folder, files, m) for folder, files, _ in walked if (m := RUN_DIR.fullmatch(folder.name))
    ]


@register
class MeltRun:
    name = "melt-run"
    description = "MELT run folders (run_cs<ctx>_mgl<gen>[_bs<batch>])"
    reads_folders = True

    def sniff(self, path: Path, head: str) -> bool:
        return bool(run_dirs(list(walk(path))))

    def read(self, path: Path) -> ImportResult:
        result = ImportResult(self.name)
        walked = list(walk(path))
        folders = run_dirs(walked)
        result.found += [
            f"{link.relative_to(path)}: a link to a folder, not followed"
            for _, _, linked in walked
            for link in linked
        ]
        for folder, files, settings in folders:
            parents = folder.resolve().parents
            model, app, device = (
                parents[i].name if len(parents) > i else "unknown" for i in range(3)
            )
            by_iteration: dict[int, ImportedRun] = {}
            for file in files:
                if file.name.endswith(".t_monsoon"):
                    continue
                try:  # inside the folder, a regular file, not too large, not an archive
                    check_source(file)
                    importer = detect(file, exclude=(self.name,))
                except MeltError as exc:
                    result.found.append(f"{file.relative_to(path)}: refused: {exc}")
                    continue
                if importer is None:
                    result.found.append(f"{file.relative_to(path)}: not recognised, skipped")
                    continue
                try:
                    part = importer.read(file)
                except MeltError as exc:
                    result.found.append(f"{file.relative_to(path)}: {exc}")
                    continue
                result.malformed += part.malformed
                name = file.relative_to(path)
                result.found += [f"{name} ({importer.name}): {f}" for f in part.found]
                iteration = iteration_of(file)
                run = by_iteration.setdefault(
                    iteration,
                    ImportedRun(
                        label=f"{device}/{app}/{model}/{folder.name}#{iteration}",
                        framework=app,
                        device=device,
                        model=model,
                        repeat_index=iteration,
                        settings={
                            "ctx": int(settings["ctx"]),
                            "max_new_tokens": int(settings["gen"]),
                            "batch": int(settings["batch"]) if settings["batch"] else None,
                        },
                    ),
                )
                for other in part.runs:
                    run.merge(other)
            result.runs += [by_iteration[i] for i in sorted(by_iteration)]
        result.found.insert(0, f"{len(folders)} run folder(s), {len(result.runs)} iteration(s)")
        return result
