"""Across controllers on Ray: every controller (`melt agent --ray ADDRESS`) joins the cluster
and advertises each of its inventory devices as the custom resource `device:<name>: 1`;
`melt bench --ray ADDRESS` submits one Ray task per run, each asking for its device's
resource, so Ray places the run on the controller that owns the device and never two on one
device at once.

A controller also advertises each inventory tag of a device as `device-tag:<tag>:<name>: 1`
(no task asks for it): `--device tag:NAME` on the driver selects the devices the cluster's
controllers tag so, from their own inventories, which the driver need not have.

A task carries a `RunSpec` (`execution/spec.py`: plain data holding the whole request, so
every option of `melt bench` reaches the worker), never a live object; the worker runs it
with the same executor as `melt bench` (`execution/bench.py`) and writes each turn to the
shared store as it completes, its row saying from the start which repeat it is, which key
(`execution/retry.py`) and which Ray node and device run it. A worker
that dies mid-run leaves its run `running`; the driver ends it failed with the reason Ray gave
through the executor's `end_run`, from the turns it stored. `--retries N` is the policy
`melt bench --device a,b` uses too: a failed run again, never a completed key.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from melt.devices.inventory import AnyEntry
from melt.devices.proc import PeakRss
from melt.errors import MeltError
from melt.execution.bench import run_on_device
from melt.execution.plan import prepare
from melt.execution.request import BenchRequest, QuietObserver
from melt.execution.retry import Retries, check_retries
from melt.execution.rows import measured_turn
from melt.execution.run import end_run
from melt.execution.selection import ALL, TAG_PREFIX
from melt.execution.spec import RunSpec, plan_runs
from melt.extras import install_hint
from melt.results import STATUS_COMPLETED, STATUS_FAILED
from melt.store import Store, open_store, schema
from melt.store.liveness import RUNNING, with_liveness

RESOURCE_PREFIX = "device:"
TAG_RESOURCE_PREFIX = "device-tag:"
FLEET_EXTRA = install_hint("fleet")
NOT_RUN = "not run"
POLL_S = 2.0  # how often the driver, waiting, checks that every busy device is still there


def require_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise MeltError(f"--ray needs Ray; install it with {FLEET_EXTRA}") from None
    return ray


def resource_name(device: str) -> str:
    return f"{RESOURCE_PREFIX}{device}"


def tag_resource_name(tag: str, device: str) -> str:
    return f"{TAG_RESOURCE_PREFIX}{tag}:{device}"


def advertised_resources(devices: Iterable[AnyEntry]) -> dict[str, float]:
    """The custom resources a controller advertises for its inventory devices."""
    resources: dict[str, float] = {}
    for entry in devices:
        resources[resource_name(entry.name)] = 1
        resources |= {tag_resource_name(tag, entry.name): 1 for tag in entry.tags}
    return resources


def placement() -> dict[str, Any]:
    """Where this worker runs: the Ray node id and the host name (kept with the run)."""
    ray = require_ray()
    return {"node_id": ray.get_runtime_context().get_node_id(), "hostname": socket.gethostname()}


def execute_run(spec: RunSpec) -> dict[str, Any]:
    """Run one RunSpec on this controller's device `spec.device` (the body of a Ray task)."""
    observer = QuietObserver()
    run_on_device([spec.placed(fleet={"device": spec.device, **placement()})], observer)
    run = observer.runs[-1]
    return {"key": spec.key, "run_id": run.run_id, "status": run.status}


def fail_unfinished(store: Store, plan_id: int, key: str, reason: str) -> list[int]:
    """End the run of `key` still `running` (its worker died) failed, with the summary of
    the turns it stored; its ids."""
    ids = []
    for run in store.runs_of_experiment(plan_id):
        settings = run["settings"] or {}
        if settings.get("run_key") == key and run["recorded_status"] == RUNNING:
            measured = [measured_turn(t) for t in store.turns(run["id"])]
            lost = PeakRss(None, "unavailable: the worker running it was lost")
            end_run(
                store, run["id"], STATUS_FAILED, f"worker lost: {reason}", measured, (), lost, None
            )
            ids.append(run["id"])
    return ids


@dataclass(slots=True)
class RayOutcome:
    spec: RunSpec
    status: str
    run_id: int | None = None
    error: str | None = None
    attempts: int = 0


@dataclass(slots=True)
class RayFleetResult:
    plan_id: int
    store: str
    outcomes: list[RayOutcome] = field(default_factory=list)

    @property
    def all_completed(self) -> bool:
        return all(o.status == STATUS_COMPLETED for o in self.outcomes)


CONNECT_TIMEOUT_S = 5.0  # a cluster's head answers at once; Ray's own client retries a minute


def check_address(address: str) -> tuple[str, int]:
    """`host:port` of a Ray cluster's head, reachable now; else one line saying which."""
    host, sep, port_text = address.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise MeltError(
            f"--ray '{address}': expected the Ray head's HOST:PORT, e.g. 127.0.0.1:6379 "
            "(what 'ray start --head' prints)"
        )
    try:
        with socket.create_connection((host, int(port_text)), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        reason = "no answer" if isinstance(exc, TimeoutError) else exc.strerror or str(exc)
        raise MeltError(
            f"--ray {address}: no Ray cluster there ({reason} within {CONNECT_TIMEOUT_S:g} s); "
            "start one with 'ray start --head' or pass its head's address"
        ) from None
    return host, int(port_text)


def connect(address: str) -> Any:
    ray = require_ray()
    if not ray.is_initialized():
        check_address(address)
        try:
            ray.init(address=address, log_to_driver=False, include_dashboard=False)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise MeltError(f"--ray {address}: cannot join that Ray cluster ({first})") from None
    return ray


def _live_resources(ray: Any) -> list[tuple[dict[str, Any], list[str]]]:
    """Each live node and its custom resource names (the public `ray.nodes()` listing)."""
    return [(node, list(node["Resources"])) for node in ray.nodes() if node.get("Alive")]


def advertised_devices(ray: Any) -> list[str]:
    """Every device some live controller advertises, in node order."""
    return [
        k.removeprefix(RESOURCE_PREFIX)
        for _, keys in _live_resources(ray)
        for k in keys
        if k.startswith(RESOURCE_PREFIX)
    ]


def advertised_tags(ray: Any) -> dict[str, list[str]]:
    """Each tag the live controllers advertise, and its devices in node order."""
    tags: dict[str, list[str]] = {}
    for _, keys in _live_resources(ray):
        for k in keys:
            if k.startswith(TAG_RESOURCE_PREFIX):
                tag, _, device = k.removeprefix(TAG_RESOURCE_PREFIX).partition(":")
                tags.setdefault(tag, []).append(device)
    return tags


def select_advertised(spec: str, ray: Any, address: str) -> list[str]:
    """The devices `--device` names on the cluster: names, `all`, `tag:NAME` (tags from the
    controllers' own inventories, as they advertise them), or a comma-separated mix."""
    known = advertised_devices(ray)
    chosen: list[str] = []
    for part in (p.strip() for p in spec.split(",")):
        if part == ALL:
            names = known
        elif part.startswith(TAG_PREFIX):
            tag = part.removeprefix(TAG_PREFIX)
            tags = advertised_tags(ray)
            names = tags.get(tag, [])
            if not names:
                raise MeltError(
                    f"--device {part}: no controller of the Ray cluster advertises a device "
                    f"tagged '{tag}' (tags: {', '.join(sorted(tags)) or 'none'}); add it under "
                    "the device's 'tags:' in that controller's inventory and restart its agent"
                )
        elif part in known:
            names = [part]
        else:
            raise MeltError(
                f"--device {part}: no controller of the Ray cluster advertises it "
                f"(advertised: {', '.join(known) or 'none'}); run 'melt agent --ray {address}' "
                "there"
            )
        chosen += [n for n in names if n not in chosen]
    if not chosen:
        raise MeltError("--device: name at least one device, 'all', or 'tag:NAME'")
    return chosen


Task = Callable[[RunSpec], dict[str, Any]]


def run_on_ray(
    request: BenchRequest,
    address: str,
    devices: str = ALL,
    retries: int = 0,
    task: Task = execute_run,
) -> RayFleetResult:
    """Plan once here, then one Ray task per run on the controllers owning the devices that
    `devices` (a `--device` value) selects among those the cluster advertises."""
    check_retries(retries)
    if request.store is None or not request.store.startswith("postgresql"):
        raise MeltError(
            "--ray needs one store every controller reaches: pass --store postgresql://..."
        )
    ray = connect(address)
    chosen = select_advertised(devices, ray, address)
    shared = prepare(request, QuietObserver())
    plan_id = shared.store.create_experiment(
        name=request.name, command=request.command, config={**request.config, "devices": chosen}
    )
    specs = plan_runs(request, chosen, plan_id)
    return dispatch(ray, specs, Retries(retries, shared.store, plan_id), request.store, task)


def dispatch(
    ray: Any, specs: list[RunSpec], retries: Retries, store: str, task: Task
) -> RayFleetResult:
    """Run `specs`, each device's one after another, retrying failed runs by `retries`.

    Each device gets its next run when its previous one ends, and a device that no live
    controller advertises any more gets no task (its waiting one is cancelled): never a task
    waiting forever for a resource that is gone."""
    remote = ray.remote(task)
    queues: dict[str, list[RunSpec]] = {}
    for spec in specs:
        queues.setdefault(spec.device, []).append(spec)
    result = RayFleetResult(retries.plan_id, store)
    pending: dict[Any, RayOutcome] = {}

    def submit(outcome: RayOutcome) -> None:
        outcome.attempts += 1
        ref = remote.options(
            resources={resource_name(outcome.spec.device): 1}, num_cpus=0, max_retries=0
        ).remote(outcome.spec)
        pending[ref] = outcome

    def next_for(device: str) -> None:
        if queues.get(device):
            outcome = RayOutcome(queues[device].pop(0), "pending")
            result.outcomes.append(outcome)
            submit(outcome)

    def device_gone(device: str, reason: str) -> None:
        for spec in queues.pop(device, []):
            result.outcomes.append(RayOutcome(spec, NOT_RUN, error=reason))

    def cancel_where_gone() -> None:
        """Cancel the task of a device no live controller advertises (it would wait
        forever); a run it had started is ended failed."""
        live = set(advertised_devices(ray))
        for ref, outcome in list(pending.items()):
            device = outcome.spec.device
            if device in live:
                continue
            ray.cancel(ref, force=True)
            del pending[ref]
            reason = f"device '{device}' left the Ray cluster (its controller is gone)"
            failed = fail_unfinished(retries.store, retries.plan_id, outcome.spec.key, reason)
            outcome.status = STATUS_FAILED if failed else NOT_RUN
            outcome.run_id, outcome.error = (failed or [outcome.run_id])[0], reason
            device_gone(device, reason)

    for device in list(queues):
        next_for(device)
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1, timeout=POLL_S)
        if not ready:
            cancel_where_gone()
            continue
        outcome = pending.pop(ready[0])
        device = outcome.spec.device
        try:
            done = ray.get(ready[0])
            outcome.status, outcome.run_id = done["status"], done["run_id"]
        except Exception as exc:  # the task's error or the worker's death, as Ray says it
            reason = _ray_reason(exc)
            failed = fail_unfinished(retries.store, retries.plan_id, outcome.spec.key, reason)
            outcome.status, outcome.error = STATUS_FAILED, reason
            outcome.run_id = failed[0] if failed else outcome.run_id
            if retries.failed(outcome.spec.key) and device in advertised_devices(ray):
                submit(outcome)
                continue
            if _device_lost(exc):
                device_gone(device, reason)
                continue
        next_for(device)
    return result


def _ray_reason(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None)
    if isinstance(cause, MeltError):
        return str(cause)
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


def _device_lost(exc: BaseException) -> bool:
    from ray.exceptions import NodeDiedError, WorkerCrashedError

    return isinstance(exc, NodeDiedError | WorkerCrashedError) or "died" in str(exc).lower()


def _running_runs(store: Store) -> dict[tuple[str, str], dict[str, Any]]:
    """The runs a live process is writing now, by the (Ray node, device) running them."""
    runs = schema.runs
    query = select(runs).where(runs.c.status == RUNNING).order_by(runs.c.id)
    rows = store.read(lambda conn: [with_liveness(dict(r._mapping)) for r in conn.execute(query)])
    found = {}
    for run in rows:
        fleet = (run["settings"] or {}).get("fleet") or {}
        if run["status"] == RUNNING and fleet.get("node_id") and fleet.get("device"):
            found[(fleet["node_id"], fleet["device"])] = {
                "run_id": run["id"],
                "experiment_id": run["experiment_id"],
                "model": f"{run['model_name']} {run['model_quant']}",
                "repeat_index": run["repeat_index"],
                "started_at": run["started_at"],
            }
    return found


def status(address: str, store: str | None = None) -> list[dict[str, Any]]:
    """Each live controller: its node, host, and devices; for each device whether a task
    holds it now (`ray.available_resources`: a device's resource is on one node only) and,
    with the shared `store`, the run that task is writing (from the run rows, which name the
    Ray node and device that run them)."""
    ray = connect(address)
    free = ray.available_resources()
    running = _running_runs(open_store(store)) if store is not None else {}
    rows = []
    for node, keys in _live_resources(ray):
        devices = {}
        for key in keys:
            if key.startswith(RESOURCE_PREFIX):
                name = key.removeprefix(RESOURCE_PREFIX)
                devices[name] = {
                    "state": "busy" if free.get(key, 0) < 1 else "idle",
                    "run": running.get((node["NodeID"], name)),
                }
        rows.append(
            {
                "node_id": node["NodeID"],
                "host": node.get("NodeManagerHostname"),
                "address": node.get("NodeManagerAddress"),
                "devices": devices,
            }
        )
    return rows
