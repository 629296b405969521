"""`melt agent --ray ADDRESS` (a controller joins a Ray cluster and advertises its devices),
`melt fleet status --ray ADDRESS`, and the `--ray` side of `melt bench`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import typer
from rich.table import Table

from melt.cli.devices import DEVICES_OPTION
from melt.devices.inventory import entries, inventory_path, load_inventory
from melt.execution.ray_fleet import (
    RayFleetResult,
    advertised_resources,
    check_address,
    require_ray,
    run_on_ray,
    status,
)
from melt.execution.request import BenchRequest
from melt.report.console import stdout_console

EXIT_NOT_ALL_RAN = 1
AGENT_STOP_S = 60  # for `ray start --block` to stop its node's processes
RAY_OPTION = typer.Option(..., "--ray", help="Address of the Ray cluster's head, e.g. lab:6379.")

app = typer.Typer(help="Many controllers on a Ray cluster.", no_args_is_help=True)


def agent(
    ray: str = RAY_OPTION,
    devices: Path = DEVICES_OPTION,
    num_cpus: int = typer.Option(1, help="CPUs this controller lends Ray (runs need none)."),
) -> None:
    """Join the Ray cluster at --ray and advertise this controller's devices until stopped."""
    require_ray()
    check_address(ray)
    path = inventory_path(devices)
    devices_here = entries(load_inventory(path))
    names = [e.name for e in devices_here]
    resources = json.dumps(advertised_resources(devices_here))
    env = None
    if path is not None:
        env = {**os.environ, "MELT_DEVICES": str(path.resolve())}  # the node's workers read it
    command = [sys.executable, "-m", "ray.scripts.scripts", "start", "--address", ray]
    command += ["--resources", resources, "--num-cpus", str(num_cpus), "--block"]
    print(f"advertising {', '.join(names)} to the Ray cluster at {ray}", file=sys.stderr)
    node = subprocess.Popen(command, env=env)
    try:
        code = node.wait()
    except BaseException:  # Ctrl-C, SIGTERM: take this controller's Ray node down with us
        node.send_signal(signal.SIGTERM)
        node.wait(AGENT_STOP_S)
        raise
    raise typer.Exit(code)


@app.command("status")
def fleet_status(
    ray: str = RAY_OPTION,
    store: str = typer.Option(
        None,
        "--store",
        help="The shared store the cluster's runs write (postgresql://...): shows the run on "
        "each busy device.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Controllers of the cluster, their devices, and what runs on each device now."""
    rows = status(ray, store)
    if as_json:
        print(json.dumps({"controllers": rows}, indent=2))
        return
    table = Table(title=f"Ray cluster {ray}", title_justify="left")
    for column in ("controller (node)", "host", "device", "now", "run", "model", "started"):
        table.add_column(column)
    for row in rows:
        for device, now in row["devices"].items() or [("(none)", None)]:
            run = (now or {}).get("run") or {}
            table.add_row(
                row["node_id"][:12],
                row["host"] or "",
                device,
                (now or {}).get("state", ""),
                str(run.get("run_id", "")),
                run.get("model", ""),
                run.get("started_at", ""),
            )
    stdout_console().print(table)


def bench_on_ray(request: BenchRequest, address: str, retries: int, as_json: bool) -> None:
    result = run_on_ray(request, address, request.device, retries)
    if as_json:
        print(json.dumps(_document(result), indent=2))
    else:
        stdout_console().print(_table(result))
    if not result.all_completed:
        raise typer.Exit(EXIT_NOT_ALL_RAN)


def _document(result: RayFleetResult) -> dict[str, object]:
    return {
        "experiment_id": result.plan_id,
        "store": result.store,
        "all_completed": result.all_completed,
        "runs": [
            {
                "key": o.spec.key,
                "device": o.spec.device,
                "repeat": o.spec.repeat,
                "status": o.status,
                "run_id": o.run_id,
                "attempts": o.attempts,
                "error": o.error,
            }
            for o in result.outcomes
        ],
    }


def _table(result: RayFleetResult) -> Table:
    table = Table(title=f"experiment {result.plan_id} on Ray", title_justify="left")
    for column in ("device", "model", "repeat", "run", "status", "attempts", "reason"):
        table.add_column(column)
    for o in result.outcomes:
        table.add_row(
            o.spec.device,
            f"{o.spec.cell.model} {o.spec.cell.quant or ''}".strip(),
            str(o.spec.repeat),
            "" if o.run_id is None else str(o.run_id),
            o.status,
            str(o.attempts),
            o.error or "",
        )
    return table
