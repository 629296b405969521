"""`melt bench --ray`: a real local multi-node Ray cluster (`ray.cluster_utils.Cluster`, as
Ray's own tests do), two "controllers" each advertising one device, one shared PostgreSQL
store. Here because the PostgreSQL server fixture lives in this folder's conftest."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import ray
import yaml
from ray.cluster_utils import Cluster
from sqlalchemy import create_engine, text
from tests.waiting import wait_until

from melt.config import Cell, RunSettings
from melt.devices.inventory import entries, load_inventory
from melt.execution.ray_fleet import RayFleetResult, advertised_resources, run_on_ray
from melt.execution.request import BenchRequest

BENCH = ["--max-new-tokens", "8", "--threads", "1", "--temperature", "0", "--warmup", "0"]
SRC = Path(__file__).resolve().parents[2] / "src"
NODE_ARGS = {"num_cpus": 1, "object_store_memory": 80 * 2**20}


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Cluster, dict]]:
    """A head with no devices and two controllers, one owning device `dev-a` (tagged
    `boards`) and one `dev-b` (tagged `boards`, `arm`), both this machine's local device under
    those names, each advertising what `melt agent` would."""
    inventory = tmp_path / "melt-devices.yaml"
    devices = [
        {"name": "dev-a", "transport": "local", "tags": ["boards"]},
        {"name": "dev-b", "transport": "local", "tags": ["boards", "arm"]},
    ]
    inventory.write_text(yaml.safe_dump({"devices": devices}))
    monkeypatch.setenv("MELT_DEVICES", str(inventory))  # the nodes' workers inherit it
    listed = {e.name: e for e in entries(load_inventory(inventory))}
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    nodes = {
        name: c.add_node(**NODE_ARGS, resources=advertised_resources([listed[name]]))
        for name in ("dev-a", "dev-b")
    }
    c.wait_for_nodes()
    try:
        yield c, nodes
    finally:
        ray.shutdown()
        c.shutdown()


def _request(store: str, tmp_path: Path, turns: int, repeats: int) -> BenchRequest:
    workload = tmp_path / "w.json"
    workload.write_text(json.dumps([[f"Tell me fact {i} about owls." for i in range(turns)]]))
    settings = RunSettings(threads=1, ctx=2048, max_new_tokens=8)
    return BenchRequest(
        cells=(Cell("smollm2-135m-instruct", None, settings),),
        workload=str(workload),
        repeats=repeats,
        warmup_turns=0,
        store=store,
    )


def _runs(url: str) -> list[dict[str, Any]]:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(text("select * from runs order by id"))]
        for row in rows:
            row["turns"] = conn.execute(
                text("select count(*) from turns where run_id = :r"), {"r": row["id"]}
            ).scalar()
    engine.dispose()
    return rows


def _settings(run: dict[str, Any]) -> dict[str, Any]:
    raw = run["settings"]
    return raw if isinstance(raw, dict) else json.loads(raw)


@pytest.mark.slow
def test_each_run_lands_on_the_controller_owning_its_device(
    cluster: tuple[Cluster, dict],
    postgres_url: str,
    tmp_path: Path,
    melt: Callable[..., Any],
    workload_file: Callable[..., Path],
) -> None:
    c, nodes = cluster
    status = melt("fleet", "status", "--ray", c.address, "--json")
    assert status.code == 0, status.err
    advertised = {r["node_id"]: r["devices"] for r in status.json()["controllers"] if r["devices"]}
    idle = {"state": "idle", "run": None}
    assert advertised == {
        nodes["dev-a"].node_id: {"dev-a": idle},
        nodes["dev-b"].node_id: {"dev-b": idle},
    }
    workload = workload_file([["Name a colour.", "And another one?"]])
    bench = melt(
        "bench",
        "--ray",
        c.address,
        "--device",
        "dev-a,dev-b",
        "--store",
        postgres_url,
        "--workload",
        str(workload),
        "--repeats",
        "2",
        *BENCH,
        "--json",
    )
    assert bench.code == 0, bench.err
    assert bench.json()["all_completed"] is True
    runs = _runs(postgres_url)
    assert len(runs) == 4 and {r["status"] for r in runs} == {"completed"}
    assert len({r["experiment_id"] for r in runs}) == 1  # planned once
    for run in runs:
        fleet = _settings(run)["fleet"]
        assert fleet["node_id"] == nodes[run["device"]].node_id
        assert _settings(run)["run_key"].endswith(f":{run['repeat_index']}:{run['device']}")
        assert run["turns"] == 2
    assert sorted(r["repeat_index"] for r in runs) == [0, 0, 1, 1]
    keys = [_settings(r)["run_key"] for r in runs]
    assert len(set(keys)) == 4
    again = melt("bench", "--ray", c.address, "--device", "dev-c", "--store", postgres_url)
    assert again.code == 2
    assert "no controller of the Ray cluster advertises it" in again.err


def test_ray_missing_is_one_line_naming_the_extra(
    melt: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    result = melt("fleet", "status", "--ray", "127.0.0.1:6379")
    assert result.code == 2
    assert (
        result.err.strip()
        == "melt: error: --ray needs Ray; install it with pip install 'melt-bench[fleet]'"
    )


@pytest.mark.slow
def test_a_controller_lost_mid_run_fails_that_run_and_the_rest_complete(
    cluster: tuple[Cluster, dict], postgres_url: str, tmp_path: Path
) -> None:
    c, nodes = cluster
    request = _request(postgres_url, tmp_path, 12, 2)
    driver, done = _driver(request, c.address, "dev-a,dev-b")

    def dev_b_measuring() -> bool:
        try:
            return any(r["device"] == "dev-b" and r["turns"] >= 1 for r in _runs(postgres_url))
        except Exception:  # the schema may not exist yet
            return False

    assert wait_until(dev_b_measuring, 300)
    c.remove_node(nodes["dev-b"], allow_graceful=False)
    driver.join(300)
    assert not driver.is_alive() and done
    result = done[0]
    runs = _runs(postgres_url)
    dev_a = [r for r in runs if r["device"] == "dev-a"]
    dev_b = [r for r in runs if r["device"] == "dev-b"]
    assert [r["status"] for r in dev_a] == ["completed", "completed"]
    assert len(dev_b) == 1 and dev_b[0]["status"] == "failed"
    assert "worker lost" in dev_b[0]["error"] and dev_b[0]["turns"] >= 1
    summary = dev_b[0]["summary"]  # ended by the session's end_run, from its stored turns
    summary = summary if isinstance(summary, dict) else json.loads(summary)
    assert summary["aggregates"]["turns"] == dev_b[0]["turns"]
    statuses = sorted((o.spec.device, o.status) for o in result.outcomes)
    assert statuses == [
        ("dev-a", "completed"),
        ("dev-a", "completed"),
        ("dev-b", "failed"),
        ("dev-b", "not run"),
    ]


def _advertised(address: str) -> dict[str, bool]:
    """Every `device:` and `device-tag:` resource of the cluster and whether its node is
    alive."""
    found = {}
    for node in ray.nodes():
        for key in node["Resources"]:
            if key.startswith(("device:", "device-tag:")):
                found[key] = found.get(key, False) or bool(node["Alive"])
    return found


def test_melt_agent_advertises_its_inventory_and_leaves_on_sigterm(
    cluster: tuple[Cluster, dict], tmp_path: Path
) -> None:
    c, _nodes = cluster
    inventory = tmp_path / "controller-c.yaml"
    dev_c = {"name": "dev-c", "transport": "local", "tags": ["arm"]}
    inventory.write_text(yaml.safe_dump({"devices": [dev_c]}))
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    command = [sys.executable, "-m", "melt", "agent", "--ray", c.address]
    agent = subprocess.Popen([*command, "--devices", str(inventory)], env=env)
    try:
        ray.init(address=c.address, log_to_driver=False)
        wanted = {"device:dev-c", "device:local", "device-tag:arm:dev-c"}
        assert wait_until(lambda: all(_advertised(c.address).get(k) for k in wanted), 120)
        agent.send_signal(signal.SIGTERM)
        agent.wait(120)
        assert wait_until(lambda: not _advertised(c.address).get("device:dev-c"), 120)
    finally:
        if agent.poll() is None:
            agent.kill()


def _driver(
    request: BenchRequest, address: str, devices: str, retries: int = 0
) -> tuple[threading.Thread, list[RayFleetResult]]:
    """`run_on_ray` in a thread, as `melt bench --ray` runs it; its result once it ends."""
    done: list[RayFleetResult] = []
    thread = threading.Thread(
        target=lambda: done.append(run_on_ray(request, address, devices, retries)), daemon=True
    )
    thread.start()
    return thread, done


def _running_on(url: str, device: str, repeat: int) -> Callable[[], dict[str, Any] | None]:
    """The run of `repeat` on `device` while it is running with a stored turn, else None."""

    def find() -> dict[str, Any] | None:
        try:
            runs = _runs(url)
        except Exception:  # the schema may not exist yet
            return None
        for run in runs:
            key = _settings(run).get("run_key", "")
            if key.endswith(f":{repeat}:{device}") and run["status"] == "running" and run["turns"]:
                return run
        return None

    return find


@pytest.mark.slow
def test_fleet_status_names_the_run_on_each_device_of_a_tag_bench(
    cluster: tuple[Cluster, dict],
    postgres_url: str,
    tmp_path: Path,
    melt: Callable[..., Any],
) -> None:
    """`--device tag:arm` picks dev-b by the tag its controller advertises; while its second
    repeat runs, that run's row already says repeat 1, and `fleet status` names it."""
    c, nodes = cluster
    nope = melt("bench", "--ray", c.address, "--device", "tag:nope", "--store", postgres_url)
    assert nope.code == 2 and "tagged 'nope' (tags: arm, boards)" in nope.err
    thread, done = _driver(_request(postgres_url, tmp_path, 12, 2), c.address, "tag:arm")
    running = _running_on(postgres_url, "dev-b", 1)
    assert wait_until(lambda: running() is not None, 300)
    run = running()
    assert run is not None and run["repeat_index"] == 1  # right while it runs
    shown = melt("fleet", "status", "--ray", c.address, "--store", postgres_url, "--json")
    assert shown.code == 0, shown.err
    by_node = {r["node_id"]: r["devices"] for r in shown.json()["controllers"]}
    assert by_node[nodes["dev-a"].node_id] == {"dev-a": {"state": "idle", "run": None}}
    dev_b = by_node[nodes["dev-b"].node_id]["dev-b"]
    assert dev_b["state"] == "busy"
    assert dev_b["run"]["run_id"] == run["id"] and dev_b["run"]["repeat_index"] == 1
    assert dev_b["run"]["model"] == f"{run['model_name']} {run['model_quant']}"
    assert dev_b["run"]["started_at"] == run["started_at"]
    table = melt("fleet", "status", "--ray", c.address, "--store", postgres_url)
    assert table.code == 0 and "dev-b" in table.out and "busy" in table.out
    thread.join(300)
    assert not thread.is_alive() and done and done[0].all_completed
    runs = _runs(postgres_url)
    assert [(r["device"], r["repeat_index"], r["status"]) for r in runs] == [
        ("dev-b", 0, "completed"),
        ("dev-b", 1, "completed"),
    ]


@pytest.mark.slow
def test_a_killed_worker_is_retried_and_a_completed_run_never_runs_again(
    cluster: tuple[Cluster, dict], postgres_url: str, tmp_path: Path
) -> None:
    """`--retries 1`: dev-b's worker process is killed mid-run (its node stays); that run
    fails, runs once more on the same controller and completes; nothing completed reruns."""
    c, nodes = cluster
    thread, done = _driver(_request(postgres_url, tmp_path, 12, 2), c.address, "dev-a,dev-b", 1)
    running = _running_on(postgres_url, "dev-b", 0)
    assert wait_until(lambda: running() is not None, 300)
    victim = running()
    assert victim is not None
    os.kill(victim["pid"], signal.SIGKILL)  # the Ray worker writing the run
    thread.join(300)
    assert not thread.is_alive() and done
    runs = _runs(postgres_url)
    dev_a = [r for r in runs if r["device"] == "dev-a"]
    dev_b = [r for r in runs if r["device"] == "dev-b"]
    assert [r["status"] for r in dev_a] == ["completed", "completed"]
    assert [(r["repeat_index"], r["status"]) for r in dev_b] == [
        (0, "failed"),
        (0, "completed"),
        (1, "completed"),
    ]
    assert dev_b[0]["id"] == victim["id"] and "worker lost" in dev_b[0]["error"]
    assert {_settings(r)["fleet"]["node_id"] for r in dev_b} == {nodes["dev-b"].node_id}
    completed = [_settings(r)["run_key"] for r in runs if r["status"] == "completed"]
    assert len(completed) == len(set(completed)) == 4  # one completed row per key
    assert _settings(dev_b[0])["run_key"] == _settings(dev_b[1])["run_key"]
    attempts = {(o.spec.device, o.spec.repeat): (o.status, o.attempts) for o in done[0].outcomes}
    assert attempts == {
        ("dev-a", 0): ("completed", 1),
        ("dev-a", 1): ("completed", 1),
        ("dev-b", 0): ("completed", 2),
        ("dev-b", 1): ("completed", 1),
    }


@pytest.fixture
def worker_api_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """The server's key in the environment before the cluster starts (its workers inherit
    the environment of the process that started their node)."""
    from tests.fixtures.llama_server import API_KEY, API_KEY_ENV

    monkeypatch.setenv(API_KEY_ENV, API_KEY)
    return API_KEY_ENV


@pytest.mark.slow
def test_every_option_given_with_ray_reaches_the_workers_run(
    worker_api_key: str,
    cluster: tuple[Cluster, dict],
    postgres_url: str,
    tmp_path: Path,
    melt: Callable[..., Any],
    workload_file: Callable[..., Path],
    llama_server_binary: Path,
    bundled: Any,
) -> None:
    """`--ray` once rebuilt each run from five fields and dropped the rest (issue 21): here
    the probe rate, the cooldown, an external server's endpoint, model and key variable, and
    the server binary of a server the run starts, each given with `--ray`, are found in the
    run the worker stored, and the worker acted on them (its sampler's target rate, the
    framework it ran)."""
    from tests.fixtures.llama_server import llama_server

    c, _ = cluster
    workload = workload_file([["Name a colour."]])
    common = [*BENCH, "--workload", str(workload), "--store", postgres_url, "--json"]
    common += ["--probe-rate", "7", "--cooldown", "1s", "--ray", c.address]
    started = melt(
        "bench",
        *common,
        "--device",
        "dev-a",
        "--framework",
        "llama-server",
        "--server-binary",
        str(llama_server_binary),
    )
    assert started.code == 0, started.err
    with llama_server(llama_server_binary, bundled.path, tmp_path) as server:
        external = melt(
            "bench",
            *common,
            "--device",
            "dev-b",
            "--framework",
            "openai-http",
            "--endpoint",
            server.url,
            "--api-model",
            "served-model",
            "--api-key-env",
            worker_api_key,
        )
    assert external.code == 0, external.err
    runs = {r["device"]: r for r in _runs(postgres_url)}
    assert {d: (r["framework"], r["status"]) for d, r in runs.items()} == {
        "dev-a": ("llama-server", "completed"),
        "dev-b": ("openai-http", "completed"),
    }
    for run in runs.values():
        options = _settings(run)["options"]
        assert options["probes"]["rate_hz"] == 7.0 and options["probes"]["cooldown"] == 1.0
        summary = run["summary"] if isinstance(run["summary"], dict) else json.loads(run["summary"])
        assert summary["signals"]["sampling"]["target_hz"] == 7.0
    assert _settings(runs["dev-a"])["options"]["framework_options"]["server_binary"] == str(
        llama_server_binary
    )
    served = _settings(runs["dev-b"])["options"]["framework_options"]
    assert served["endpoint"] == server.url and served["api_model"] == "served-model"
    assert served["api_key_env"] == worker_api_key
