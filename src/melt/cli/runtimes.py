"""`melt runtimes build | list | show`: llama.cpp's binaries built by melt for a device."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import typer
from rich.table import Table

from melt.cli.progress import step_progress
from melt.devices.inventory import find_entry, inventory_path, load_inventory, open_device
from melt.errors import MeltError
from melt.report.console import stdout_console
from melt.report.units import fmt_bytes
from melt.runtimes.backends import backend
from melt.runtimes.build import TOOLS, BuildRequest, build
from melt.runtimes.cache import Runtime, all_runtimes, find, runtimes_dir
from melt.runtimes.places import BoardPlace, LocalPlace, Place
from melt.runtimes.sources import directory_source, pinned_source
from melt.runtimes.targets import Target, native_target, target, target_for_abi

app = typer.Typer(
    help="llama.cpp runtimes (llama-server, llama-bench, llama-perplexity) built for a device.",
    no_args_is_help=True,
)


def _tools(value: str | None) -> tuple[str, ...]:
    if not value:
        return TOOLS
    tools = tuple(t.strip() for t in value.split(",") if t.strip())
    unknown = [t for t in tools if t not in TOOLS]
    if unknown or not tools:
        raise MeltError(f"--tools {value}: choose among {', '.join(TOOLS)} (comma-separated)")
    return tools


def _plain_progress() -> Callable[[str], None]:
    """One line per step on stderr when it is not a terminal (CI logs, a pipe)."""

    def say(message: str) -> None:
        print(f"melt: {message}", file=sys.stderr, flush=True)

    return say


@app.command("build")
def build_command(
    target_name: str | None = typer.Option(
        None,
        "--target",
        help="linux-x86_64, linux-arm64 or android-arm64 (default: this "
        "machine's, or the --on board's).",
    ),
    backend_name: str = typer.Option("cpu", "--backend", help="cpu, vulkan or cuda."),
    tools: str | None = typer.Option(
        None, "--tools", help="Comma-separated subset of llama-server,llama-bench,llama-perplexity."
    ),
    source: Path | None = typer.Option(
        None, "--source", help="A llama.cpp source directory (default: the one melt pins)."
    ),
    ndk: Path | None = typer.Option(
        None, "--ndk", help="An Android NDK: build the bionic binary for android-arm64."
    ),
    on: str | None = typer.Option(
        None, "--on", help="Build on this SSH device of the inventory, with its toolchain."
    ),
    devices: Path | None = typer.Option(
        None, "--devices", help="Inventory YAML (default: $MELT_DEVICES or ./melt-devices.yaml)."
    ),
    jobs: int = typer.Option(2, "--jobs", "-j", min=1, help="Parallel compile jobs."),
    as_json: bool = typer.Option(False, "--json", help="Print the runtime's provenance as JSON."),
) -> None:
    """Build a runtime (or find it already built) and print its id and directory."""
    chosen_backend = backend(backend_name)
    chosen_tools = _tools(tools)
    place: Place
    if on is not None:
        device = open_device(find_entry(load_inventory(inventory_path(devices)), on))
        if device.transport != "ssh":
            raise MeltError(f"--on {on}: builds run on SSH devices; '{on}' is {device.transport}")
        place = BoardPlace(device)
        board_target = target_for_abi(device.facts().arch)
        if board_target is None or (board_target.cross and target_name is None):
            raise MeltError(
                f"--on {on}: melt has no native target for its architecture "
                f"({device.facts().arch}); pass --target"
            )
        chosen_target = target(target_name) if target_name else board_target
        chosen_target = _native_on_board(chosen_target, on)
    else:
        place = LocalPlace()
        chosen_target = target(target_name) if target_name else native_target()
        if chosen_backend.on_device_only:
            raise MeltError(
                f"--backend {backend_name} is built on the device that has its toolkit: "
                f"melt runtimes build --on DEVICE --backend {backend_name}"
            )
    if chosen_backend.targets is not None and chosen_target.name not in chosen_backend.targets:
        raise MeltError(
            f"--backend {backend_name} is not built for --target {chosen_target.name} here "
            f"(it is for {', '.join(chosen_backend.targets)})"
        )
    if ndk is not None:
        chosen_target.ndk_flags(ndk.expanduser())  # a wrong NDK is refused before the work
    chosen_source = (
        directory_source(source)
        if source is not None
        else pinned_source(runtimes_dir() / "sources")
    )
    request = BuildRequest(
        chosen_target,
        chosen_backend,
        chosen_tools,
        chosen_source,
        ndk.expanduser() if ndk is not None else None,
        jobs,
    )
    if sys.stderr.isatty():
        with step_progress("starting") as say:
            runtime = build(request, place, say)
    else:
        runtime = build(request, place, _plain_progress())
    if as_json:
        print(json.dumps(runtime.provenance, indent=2))
    else:
        print(runtime.id)
        print(runtime.binary(chosen_tools[0]).rsplit("/", 1)[0])


def _native_on_board(chosen: Target, on: str) -> Target:
    if chosen.cross:
        raise MeltError(
            f"--on {on} --target {chosen.name}: a board builds its own native target; "
            "cross targets are built here (leave out --on)"
        )
    return chosen


def _row(runtime: Runtime) -> list[str]:
    p = runtime.provenance
    size = sum(
        b.get("size_bytes") or 0 for b in (*p["binaries"].values(), *p["libraries"].values())
    )
    return [
        runtime.id,
        runtime.target,
        runtime.backend,
        ", ".join(p["binaries"]),
        fmt_bytes(size),
        f"{p.get('build_s', 0):.0f} s",
        runtime.device or "here",
    ]


@app.command("list")
def list_command(
    as_json: bool = typer.Option(False, "--json", help="Print the provenance of each as JSON."),
) -> None:
    """The runtimes built so far (`$MELT_RUNTIMES`, default ~/.cache/melt/runtimes)."""
    found = all_runtimes()
    if as_json:
        print(json.dumps([r.provenance for r in found], indent=2))
        return
    table = Table(title=f"runtimes ({runtimes_dir()})", title_justify="left")
    for column in ("id", "target", "backend", "binaries", "size", "build", "kept"):
        table.add_column(column)
    for runtime in found:
        table.add_row(*_row(runtime))
    stdout_console().print(table)


@app.command("show")
def show_command(
    name: str = typer.Argument(..., help="A runtime id or a unique prefix of it."),
) -> None:
    """A runtime's provenance (JSON): source, llama.cpp commit, compiler, flags, sha256s."""
    print(json.dumps(find(name).provenance, indent=2))
