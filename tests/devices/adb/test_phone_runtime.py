"""`melt bench --device phone --framework llama-server` with no binary named: melt chooses
the runtime it built for the phone's ABI by itself. The fake phone declares arm64-v8a and has
an arm64 CPU (qemu-user under its own binfmt_misc), so the static aarch64 llama-server melt
built really runs there and a short bench completes through it; the run records which
runtime and binary it was. Without one, a single line names the build command."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.devices.adb.phone_cli import Melt, phone_inventory
from tests.fixtures.adb.harness import AdbServer, FakePhone
from tests.runtimes.ci_runtimes import ci_runtime

from melt.frameworks.llama_server.framework import ci_runtimes
from melt.runtimes.cache import Runtime
from melt.store import open_store


@pytest.fixture(scope="session")
def arm64_runtime() -> Runtime:
    return ci_runtime("android-arm64", "cpu", ("llama-server",))


@pytest.fixture
def arm64_phone(adb_server: AdbServer, sandbox: Path) -> Iterator[FakePhone]:
    fake = FakePhone(sandbox, arm64_cpu=True)
    assert "connected" in adb_server.adb("connect", fake.serial).stdout
    adb_server.wait_state(fake.serial, ("device",))
    yield fake
    fake.kill()
    adb_server.adb("disconnect", fake.serial)


def bench_argv(tmp_path: Path, inventory: Path) -> list[str]:
    workload = tmp_path / "one.json"
    workload.write_text(json.dumps([["Say hi."]]))
    argv = ["bench", "--device", "phone", "--devices", str(inventory)]
    argv += ["--framework", "llama-server", "--workload", str(workload)]
    argv += ["--max-new-tokens", "4", "--threads", "2", "--warmup", "0", "--ctx", "512"]
    return [*argv, "--store", str(tmp_path / "melt.db"), "--probe-rate", "2"]


def pushed_files(root: Path) -> list[Path]:
    return [p for p in (root / "data/local/tmp").rglob("*") if p.is_file()]


def test_no_runtime_for_the_phone_is_one_line_naming_the_build_before_anything_is_pushed(
    tmp_path: Path,
    adb_server: AdbServer,
    phone: FakePhone,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MELT_RUNTIMES", str(tmp_path / "no-runtimes"))
    monkeypatch.delenv("MELT_LLAMA_SERVER", raising=False)
    inventory = phone_inventory(tmp_path / "devices.yaml", phone.serial, adb_server.port)
    code, _, err = Melt(bench_argv(tmp_path, inventory)).finish()
    assert code == 2, err
    assert err.strip() == (
        "melt: error: no llama-server for device 'phone' (arm64-v8a, backend cpu): build one "
        "with 'melt runtimes build --target android-arm64 --backend cpu', or pass "
        "--server-binary PATH"
    )
    assert all(p.name == "melt-sampler.sh" for p in pushed_files(phone.root))


@pytest.mark.slow
def test_melt_chooses_the_arm64_runtime_for_an_arm64_phone_and_a_bench_runs_through_it(
    tmp_path: Path,
    adb_server: AdbServer,
    arm64_phone: FakePhone,
    arm64_runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MELT_RUNTIMES", str(ci_runtimes()))
    monkeypatch.delenv("MELT_LLAMA_SERVER", raising=False)
    inventory = phone_inventory(tmp_path / "devices.yaml", arm64_phone.serial, adb_server.port)
    code, _, err = Melt(bench_argv(tmp_path, inventory)).finish()
    assert code == 0, err

    store = open_store(str(tmp_path / "melt.db"), create=False)
    run = store.run(store.list_runs()[0]["id"])
    turns = store.turns(run["id"])
    assert run["status"] == "completed"
    binary = arm64_runtime.provenance["binaries"]["llama-server"]
    assert run["runtime"]["id"] == arm64_runtime.id
    assert run["runtime"]["target"] == "android-arm64" and run["runtime"]["backend"] == "cpu"
    assert run["runtime"]["binary_sha256"] == binary["sha256"]
    assert run["runtime"]["sha256"] == arm64_runtime.sha256
    assert run["runtime"]["linkage"].startswith("static, glibc")

    pushed = run["settings"]["device_run"]["deploy"]["files"]["llama-server"]["path"]
    assert pushed == f"/data/local/tmp/melt/runtimes/{arm64_runtime.id}/llama-server"
    on_phone = (arm64_phone.root / pushed.lstrip("/")).read_bytes()
    assert hashlib.sha256(on_phone).hexdigest() == binary["sha256"]
    assert on_phone[18] == 0xB7  # e_machine: EM_AARCH64, run by the phone's (emulated) CPU
    assert run["framework_version"].startswith("llama-server ")
    assert "for Linux aarch64" in run["framework_system_info"]
    measured = [t for t in turns if not t["warmup"]]
    assert measured and all(t["generated_tokens"] > 0 for t in measured)
