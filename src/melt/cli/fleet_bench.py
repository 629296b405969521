"""`melt bench --device a,b` (or `all`, `tag:NAME`): the bench on many devices at once,
with one progress line per device."""

from __future__ import annotations

import json

import typer
from rich.progress import Progress

from melt.cli.progress import run_progress, turn_status
from melt.devices.inventory import inventory_path, load_inventory
from melt.execution.fleet import run_fleet
from melt.execution.request import BenchRequest
from melt.execution.selection import select_devices
from melt.metrics.turn import TurnMetrics
from melt.report.console import stdout_console
from melt.report.fleet import fleet_document, fleet_summary
from melt.results import RunResult
from melt.store import open_store
from melt.traces import TurnTrace
from melt.workloads import Conversation

EXIT_NOT_ALL_RAN = 1


class DeviceLine:
    """One progress line: the device, its current run and conversation, runs done of all."""

    def __init__(self, progress: Progress, device: str) -> None:
        self.progress = progress
        self.device = device
        self.run = ""
        self.task = progress.add_task(device, total=None, status="")

    def _show(self, where: str, **fields: object) -> None:
        self.progress.update(self.task, description=f"{self.device}: {where}", **fields)

    def preparing(self, message: str) -> None:
        self._show(f"preparing: {message}")

    def run_started(self, run_id: int, index: int, total: int, label: str) -> None:
        self.run = f"run {run_id} ({index + 1}/{total}) {label}"
        self._show(self.run, total=total, completed=index)

    def conversation_started(
        self, conversation: Conversation, index: int, total: int, warmup: bool
    ) -> None:
        which = "warmup" if warmup else f"conversation {index + 1}/{total}"
        self._show(f"{self.run}, {which}")

    def turn_done(self, trace: TurnTrace, metrics: TurnMetrics) -> None:
        self.progress.update(self.task, status=turn_status(trace, metrics))

    def run_finished(self, result: RunResult) -> None:
        self.progress.update(self.task, advance=1, status=result.status)


def bench_fleet(request: BenchRequest, retries: int, as_json: bool) -> None:
    devices = select_devices(request.device, load_inventory(inventory_path(request.devices_file)))
    with run_progress() as progress:
        result = run_fleet(request, devices, lambda name: DeviceLine(progress, name), retries)
    if as_json:
        print(json.dumps(fleet_document(result), indent=2, default=str))
    else:
        stdout_console().print(fleet_summary(result, open_store(request.store, create=False)))
    if not result.all_completed:
        raise typer.Exit(EXIT_NOT_ALL_RAN)
