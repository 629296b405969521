"""`melt devices list | check NAME | probe NAME | fact NAME KEY VALUE`: the inventory, and
what a device is."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from melt.compute import ComputeDevice
from melt.devices.base import Device, DeviceError
from melt.devices.inventory import (
    ConnectOptions,
    entries,
    find_entry,
    inventory_path,
    load_inventory,
    open_device,
)
from melt.errors import MeltError
from melt.report.console import stdout_console
from melt.report.units import fmt_bytes
from melt.values import positive_duration

app = typer.Typer(help="Devices a model runs on (local, SSH).", no_args_is_help=True)

DEVICES_OPTION = typer.Option(
    None, "--devices", help="Inventory YAML (default: $MELT_DEVICES or ./melt-devices.yaml)."
)
ACCEPT_OPTION = typer.Option(
    False, "--accept-new-host-key", help="Record an unknown SSH host key (like accept-new)."
)
BANDWIDTH_SECONDS = 2.0


def _where(entry: Any) -> str:
    return str(entry.where)


@app.command("list")
def list_devices(
    devices: Path = DEVICES_OPTION,
    as_json: bool = typer.Option(False, "--json", help="One JSON document."),
) -> None:
    """Every device of the inventory (`local` is always there); nothing is contacted."""
    path = inventory_path(devices)
    rows = [
        {"name": e.name, "transport": e.transport, "where": _where(e), "tags": list(e.tags)}
        for e in entries(load_inventory(path))
    ]
    if as_json:
        print(json.dumps({"inventory": None if path is None else str(path), "devices": rows}))
        return
    table = Table(
        title=f"devices ({path or 'no inventory file: local only'})", title_justify="left"
    )
    for column in ("name", "transport", "where", "tags"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["name"], row["transport"], row["where"], ",".join(row["tags"]))
    stdout_console().print(table)


def _open(name: str, devices: Path | None, accept: bool) -> Device:
    entry = find_entry(load_inventory(inventory_path(devices)), name)
    return open_device(entry, ConnectOptions(accept_new_host_key=accept))


def _check_document(device: Device) -> dict[str, Any]:
    from melt.runners.select import default_framework, make_runner

    started = time.monotonic()
    facts = device.facts()
    reach_s = time.monotonic() - started
    offset = device.clock_offset()
    doc: dict[str, Any] = {
        "device": device.name,
        "transport": device.transport,
        "reached_in_s": reach_s,
        "facts": facts.as_dict(),
        "clock_offset": offset.as_dict(),
        "probes": {},
        "unavailable": {},
        "problems": [],
    }
    try:
        runner = make_runner(device, default_framework(device), facts)
    except DeviceError as exc:
        doc["problems"].append(str(exc))
        return doc
    try:
        found = runner.detect_probes({})
        doc["probes"] = {p.name: p.info().source for p in found.probes}
        doc["unavailable"] = found.unavailable
        doc["deploy"] = runner.deploy_summary()
    finally:
        runner.close()
    doc["compute"] = compute_devices(device, facts)
    return doc


def compute_devices(device: Device, facts: Any) -> dict[str, Any]:
    """Per framework that can run on the device, the compute devices its build can use
    there, or why it cannot say (not installed, no binary, not on this transport)."""
    from melt.frameworks.registry import Kind, declarations
    from melt.runners.select import make_runner

    found: dict[str, Any] = {}
    for spec in declarations():
        if spec.kind is Kind.EXTERNAL_SERVER:
            continue
        try:
            runner = make_runner(device, spec.name, facts)
            try:
                listed = runner.compute_devices(spec.name)
            finally:
                runner.close()
        except (MeltError, DeviceError) as exc:
            found[spec.name] = {"unavailable": str(exc)}
            continue
        found[spec.name] = {"devices": [asdict(d) for d in listed]}
    return found


@app.command("check")
def check(
    name: str = typer.Argument(..., help="A device name from 'melt devices list'."),
    devices: Path = DEVICES_OPTION,
    accept_new_host_key: bool = ACCEPT_OPTION,
    as_json: bool = typer.Option(False, "--json", help="One JSON document."),
) -> None:
    """Reach the device and say what it is, which probes would run there and why not."""
    device = _open(name, devices, accept_new_host_key)
    try:
        doc = _check_document(device)
    finally:
        device.close()
    if as_json:
        print(json.dumps(doc, indent=2, default=str))
    else:
        _print_check(doc)
    if doc["problems"]:
        raise typer.Exit(1)


def _print_check(doc: dict[str, Any]) -> None:
    console = stdout_console()
    f = doc["facts"]
    freqs = [k for k in f["cpu_max_freq_khz"] if k]
    freq = f"{min(freqs) / 1000:.0f}–{max(freqs) / 1000:.0f} MHz max" if freqs else "max unknown"
    offset = doc["clock_offset"]
    lines = [
        f"device {doc['device']} ({doc['transport']}), reached in {doc['reached_in_s']:.2f} s",
        f"cpu      {f['cpu_model']}: {f['physical_cores']} physical / {f['logical_cores']} "
        f"logical cores, {freq}",
        f"memory   {fmt_bytes(f['ram_bytes'])}",
        f"os       {f['os']} (kernel {f['kernel']}, {f['arch']})",
        f"python   {f['python'] or 'not found'}; llama-cpp-python "
        f"{f['llama_cpp_python'] or 'NOT INSTALLED'}",
        f"workdir  {f['workdir']}: {fmt_bytes(f['workdir_free_bytes'])} free",
        f"clock    offset {offset['offset_ns'] / 1e6:+.3f} ms ± "
        f"{offset['uncertainty_ns'] / 1e6:.3f} ms ({offset['method']})",
    ]
    for key, value in (f.get("extra") or {}).items():
        lines.append(f"{key:<8} {value}")
    for line in lines:
        console.print(line, markup=False, highlight=False)
    for probe, source in doc["probes"].items():
        console.print(f"probe    {probe}: {source}", markup=False, highlight=False)
    for probe, why in doc["unavailable"].items():
        console.print(f"no probe {probe}: {why}", markup=False, highlight=False)
    for framework, listing in doc.get("compute", {}).items():
        if "unavailable" in listing:
            line = f"compute  {framework}: unavailable ({listing['unavailable']})"
            console.print(line, markup=False, highlight=False)
            continue
        for d in listing["devices"]:
            label = ComputeDevice(**d).label
            memory = d.get("memory_total_bytes")
            where = f", {fmt_bytes(memory)}" if memory else ""
            line = f"compute  {framework}: {label} ({d['kind']}, {d['api']}{where})"
            console.print(line, markup=False, highlight=False)
    for problem in doc["problems"]:
        console.print(f"problem  {problem}", markup=False, highlight=False)


@app.command("probe")
def probe(
    name: str = typer.Argument(..., help="A device name from 'melt devices list'."),
    devices: Path = DEVICES_OPTION,
    accept_new_host_key: bool = ACCEPT_OPTION,
    seconds: float = typer.Option(BANDWIDTH_SECONDS, help="Measurement length in seconds."),
    as_json: bool = typer.Option(False, "--json", help="One JSON document."),
) -> None:
    """Measure the device's memory bandwidth (the roofline's bound) and keep it as a fact."""
    from melt.devices.probe_store import store_probe
    from melt.runners.select import make_runner

    positive_duration(seconds, "--seconds")
    device = _open(name, devices, accept_new_host_key)
    try:
        if device.on_controller:
            from melt.devices.bandwidth import measure_bandwidth

            result = measure_bandwidth(budget_s=seconds).as_fact()
        else:
            runner = make_runner(device, None, device.facts())
            try:
                result = runner.client.call("bandwidth", timeout=60 + 4 * seconds, seconds=seconds)[
                    "bandwidth"
                ]
            finally:
                runner.close()
    finally:
        device.close()
    saved = store_probe(name, "memory_bandwidth", result)
    if as_json:
        print(json.dumps({"device": name, "memory_bandwidth": result, "saved": str(saved)}))
        return
    console = stdout_console()
    console.print(
        f"{name}: memory bandwidth {result['bytes_per_s'] / 1e9:.2f} GB/s "
        f"(measured on the device by {result['method']})",
        markup=False,
        highlight=False,
    )
    console.print(f"kept in {saved}; later runs on {name} carry it", markup=False)


@app.command("fact")
def fact(
    name: str = typer.Argument(..., help="A device name from 'melt devices list'."),
    key: str = typer.Argument(
        ..., help="accelerator_memory_bandwidth (bytes/s), accelerator_peak_flops or peak_flops"
    ),
    value: float = typer.Argument(..., help="The figure, in the fact's unit."),
    source: str = typer.Option(..., help="Where it comes from: a datasheet, a measurement."),
    devices: Path = DEVICES_OPTION,
) -> None:
    """State a fact no probe reads (a discrete GPU's memory bandwidth, a peak FLOP/s) for
    the report's bounds; later runs on the device carry it. Nothing is contacted."""
    from melt.devices.stated_facts import state_fact

    find_entry(load_inventory(inventory_path(devices)), name)
    stored, saved = state_fact(name, key, value, source)
    console = stdout_console()
    console.print(f"{name}: {key} {stored} kept in {saved}", markup=False, highlight=False)
    console.print(f"later runs on {name} carry it", markup=False)
