"""`melt bench --device phone --framework llama-server` end to end: the real adb server, the
fake phone (its shell runs commands on this machine, so the x86-64 llama-server really runs
the bundled model there), the model and binary pushed through adb sync by sha256, the
server's port reached through `adb forward`, the phone's sampler, its settings held and
restored. Faults: the phone gone mid-run, the server killed mid-run, a binary for another
ABI."""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.devices.adb.phone_cli import RUN_TIMEOUT_S, Melt, one_error_line, phone_inventory
from tests.fixtures.adb.harness import AdbServer, FakePhone
from tests.waiting import wait_until

from melt.devices.android_session import USB_POWER_NOTE
from melt.store import open_store
from melt.store.samples import run_samples, run_sampling

TURNS = [f"Say the number {n}." for n in range(1, 41)]  # long enough to be cut mid-run


def settings_of(root: Path) -> dict[str, str]:
    base = root / ".state/settings"
    return {f"{p.parent.name}/{p.name}": p.read_text().strip() for p in base.glob("*/*")}


def make_x86_64(root: Path) -> None:
    """The fake phone reports the ABI of this machine (an x86-64 Android device, as the
    emulator is), so the x86-64 llama-server built here may be pushed to it."""
    props = root / ".state/props"
    lines = props.read_text().splitlines()
    fixed = {"ro.product.cpu.abi": "x86_64", "ro.product.cpu.abilist": "x86_64,x86"}
    out = [
        f"{line.split('=', 1)[0]}={fixed[line.split('=', 1)[0]]}"
        if line.split("=", 1)[0] in fixed
        else line
        for line in lines
    ]
    props.write_text("\n".join(out) + "\n")


@pytest.fixture
def inventory(tmp_path: Path, adb_server: AdbServer, phone: FakePhone) -> Path:
    return phone_inventory(tmp_path / "melt-devices.yaml", phone.serial, adb_server.port)


@pytest.fixture
def workload(tmp_path: Path) -> Path:
    path = tmp_path / "long.json"
    path.write_text(json.dumps([TURNS]))
    return path


@pytest.fixture
def bench(
    tmp_path: Path,
    inventory: Path,
    llama_server_binary: Path,
    workload: Path,
) -> Iterator[Callable[..., Melt]]:
    started: list[Melt] = []

    def start(*extra: str, long: bool = False, framework: str = "llama-server") -> Melt:
        argv = ["--device", "phone", "--devices", str(inventory), "--framework", framework]
        if framework == "llama-server":
            argv += ["--server-binary", str(llama_server_binary)]
        argv += ["--max-new-tokens", "8", "--threads", "1", "--warmup", "0"]
        argv += ["--store", str(tmp_path / "melt.db"), "--probe-rate", "5"]
        argv += ["--workload", str(workload)] if long else ["--conversations", "1"]
        one = Melt(["bench", *argv, *extra])
        started.append(one)
        return one

    yield start
    for one in started:
        if one.proc.poll() is None:
            one.proc.kill()
            one.proc.communicate(timeout=30)


def the_run(tmp_path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    store = open_store(str(tmp_path / "melt.db"), create=False)
    run = store.list_runs()[0]
    return store.run(run["id"]), store.turns(run["id"])


def wait_for_turns(tmp_path: Path, count: int, bench: Melt) -> dict[str, Any]:
    """Poll the store until the run has `count` turns (the bench commits each one)."""
    seen: dict[str, Any] = {}

    def has_turns() -> bool:
        assert bench.proc.poll() is None, bench.finish()
        if not (tmp_path / "melt.db").exists():
            return False
        try:
            run, turns = the_run(tmp_path)
        except Exception:  # the store is still being created
            return False
        seen["run"] = run
        return len(turns) >= count

    assert wait_until(has_turns, RUN_TIMEOUT_S), f"the run never had {count} turns"
    return seen["run"]


def test_a_bench_on_the_phone_runs_llama_server_there_and_restores_its_settings(
    tmp_path: Path, phone: FakePhone, bench: Callable[..., Melt]
) -> None:
    make_x86_64(phone.root)
    (phone.root / "sys/class/power_supply/usb/online").write_text("1\n")  # on a USB port
    before = settings_of(phone.root)
    code, out, err = bench().finish()
    assert code == 0, err
    run, turns = the_run(tmp_path)
    assert run["status"] == "completed"
    assert run["device"] == "phone" and run["framework"] == "llama-server"
    device_run = run["settings"]["device_run"]
    assert device_run["transport"] == "adb"
    deploy = device_run["deploy"]
    pushed = {kind: f["path"] for kind, f in deploy["files"].items()}
    # a tool of a melt runtime goes with its libraries into the runtime's own folder
    assert pushed["llama-server"].startswith("/data/local/tmp/melt/runtimes/")
    model_path = next(p for k, p in pushed.items() if k.startswith("model"))
    assert (phone.root / model_path.lstrip("/")).stat().st_size == run["model_size_bytes"]
    assert deploy["bytes_pushed"] > run["model_size_bytes"]  # the model and the binary
    argv = run["settings"]["engine_settings"]["server_argv"]
    assert argv[0] == pushed["llama-server"] and argv[argv.index("--model") + 1] == model_path

    measured = [t for t in turns if not t["warmup"]]
    assert measured and all(t["generated_tokens"] > 0 for t in measured)
    assert all(t["decode_tok_per_s"] and t["decode_tok_per_s"] > 0 for t in measured)
    assert all(t["engine_timers"] and "predicted_n" in t["engine_timers"] for t in measured)

    guard = device_run["settings_guard"]
    assert guard["settings_restored"] is True
    assert {c["key"] for c in guard["settings"]} >= {"screen_brightness", "screen_off_timeout"}
    assert settings_of(phone.root) == before
    assert guard["usb_powered"] is True and guard["usb_power_note"] == USB_POWER_NOTE
    assert "USB was supplying power" in " ".join(out.split())

    store = open_store(str(tmp_path / "melt.db"), create=False)
    samples = run_samples(store, run["id"])
    assert {s.probe for s in samples} >= {"battery", "thermal", "cpufreq", "kgsl"}
    gpu = {s.channel: (s.value, s.unit) for s in samples if s.probe == "kgsl"}
    assert gpu == {"util": (37.0, "%"), "freq": (680.0, "MHz"), "temp": (48.3, "°C")}
    sources = {p["name"]: p["source"] for p in run_sampling(store, run["id"])["probes"]}
    assert "on-device sh sampler" in sources["battery"]
    assert "kgsl-3d0/gpu_busy_percentage" in sources["kgsl"]
    sampling = run_sampling(store, run["id"])
    assert sampling is not None and sampling["cpu_s"] > 0  # the sh loop's, from its /proc stat
    assert "sh loop's /proc/" in sampling["read_errors"]["cpu_source"]
    assert run["peak_rss_bytes"] and run["peak_rss_bytes"] > 50_000_000  # the server's


def test_the_phone_gone_mid_run_fails_the_run_keeps_its_turns_and_says_not_restored(
    tmp_path: Path, phone: FakePhone, bench: Callable[..., Melt]
) -> None:
    make_x86_64(phone.root)
    running = bench(long=True)
    wait_for_turns(tmp_path, 2, running)
    phone.kill()
    code, _, err = running.finish()
    run, turns = the_run(tmp_path)
    # The fake adbd, killed, could not hang up the server it started on this machine.
    with contextlib.suppress(ProcessLookupError):
        os.kill(run["settings"]["device_run"]["engine_pid"], signal.SIGKILL)
    assert code != 0
    assert one_error_line(err), err
    assert "settings not restored" in err
    assert run["status"] == "failed" and run["error"]
    assert 2 <= len(turns) < len(TURNS)
    guard = run["settings"]["device_run"]["settings_guard"]
    assert guard["settings_restored"] is False
    store = open_store(str(tmp_path / "melt.db"), create=False)
    sampling = run_sampling(store, run["id"])
    assert sampling is not None and sampling["cpu_s"] is None  # unknown, not 0.0
    assert sampling["read_errors"]["cpu_source"].startswith("not measured")
    assert any(c["error"] for c in guard["settings"])


def test_the_server_killed_mid_run_fails_the_run_and_keeps_its_turns(
    tmp_path: Path, phone: FakePhone, bench: Callable[..., Melt]
) -> None:
    make_x86_64(phone.root)
    before = settings_of(phone.root)
    running = bench(long=True)
    run = wait_for_turns(tmp_path, 1, running)
    os.kill(run["settings"]["device_run"]["engine_pid"], signal.SIGKILL)
    code, _, err = running.finish()
    assert code != 0
    assert one_error_line(err), err
    run, turns = the_run(tmp_path)
    assert run["status"] == "failed" and run["error"]
    assert 1 <= len(turns) < len(TURNS)
    assert run["settings"]["device_run"]["settings_guard"]["settings_restored"] is True
    assert settings_of(phone.root) == before


def test_a_binary_for_another_abi_is_refused_in_one_line_before_it_is_pushed(
    phone: FakePhone, bench: Callable[..., Melt]
) -> None:
    code, _, err = bench().finish()  # the fake phone is arm64-v8a, the binary x86-64
    assert code == 2, err
    assert err.strip().count("\n") == 0 and "built for x86_64" in err
    assert "arm64-v8a" in err
    assert not list((phone.root / "data/local/tmp").rglob("*llama-server*"))


def test_llama_cpp_on_a_phone_says_to_use_llama_server(
    phone: FakePhone, bench: Callable[..., Melt]
) -> None:
    code, _, err = bench(framework="llama.cpp").finish()
    assert code == 2, err
    assert err.strip() == (
        "melt: error: --framework llama.cpp on device 'phone': phones run --framework "
        "llama-server (melt pushes llama.cpp's server)"
    )


def no_run_left_running(tmp_path: Path) -> bool:
    if not (tmp_path / "melt.db").exists():
        return True
    store = open_store(str(tmp_path / "melt.db"), create=False)
    return all(r["status"] != "running" for r in store.list_runs())


def nothing_big_pushed(root: Path) -> bool:
    """Neither the server nor the model, whole or partial, is on the phone (at most melt's
    sampler script, a few kB; finding the probes and reading them for the cooldown push
    nothing)."""
    files = [p for p in (root / "data/local/tmp").rglob("*") if p.is_file()]
    return all(p.name == "melt-sampler.sh" for p in files)


def test_no_space_on_the_phone_is_one_line_before_anything_is_pushed(
    tmp_path: Path, phone: FakePhone, bench: Callable[..., Melt]
) -> None:
    make_x86_64(phone.root)
    (phone.root / ".state/df_avail_kb").write_text("2048\n")  # the phone's df: 2 MiB free
    code, _, err = bench().finish()
    assert code == 1, err
    err = err.strip()
    assert err.count("\n") == 0 and err.startswith("melt: error: device 'phone':"), err
    assert "has 2 MiB free" in err and "MiB (+" in err  # available vs needed (+ margin)
    assert "free space there or set another workdir in the inventory" in err
    assert nothing_big_pushed(phone.root)
    assert no_run_left_running(tmp_path)


def test_the_phone_filling_up_during_the_push_is_one_line_from_adbds_fail(
    tmp_path: Path, phone: FakePhone, bench: Callable[..., Melt]
) -> None:
    """df says there is room, then the first sync SEND finds none: adbd's FAIL message
    reaches melt, which says what was needed, what is free now and what to do."""
    make_x86_64(phone.root)
    # 8 kB: less than the runtime's llama-server, the first file it pushes
    filling = "8 /data/local/tmp/melt/runtimes/\n"
    (phone.root / ".state/df_avail_kb_during_send").write_text(filling)
    code, _, err = bench().finish()
    assert code == 1, err
    err = err.strip()
    assert err.count("\n") == 0, err
    assert f"melt: error: adb device {phone.serial} ran out of space in " in err
    assert "(needs " in err and "0.0 MB free now" in err
    assert "the phone said 'write failed: No space left on device'" in err
    assert err.endswith(": free space on the phone")
    assert nothing_big_pushed(phone.root)
    assert no_run_left_running(tmp_path)


AHEAD_S = 1000


def test_a_phone_whose_clock_is_not_the_controllers_keeps_the_run_on_the_phones_clock(
    tmp_path: Path, adb_server: AdbServer, sandbox: Path, llama_server_binary: Path
) -> None:
    """The phone's clock runs 1000 s ahead of the controller's: the turns (arrival times on
    the controller), the phone's samples and the idle window all land on the phone's clock,
    so the samples fall inside the windows they belong to."""
    make_x86_64(sandbox)
    fake = FakePhone(sandbox, boottime_ahead_s=AHEAD_S)
    try:
        assert "connected" in adb_server.adb("connect", fake.serial).stdout
        adb_server.wait_state(fake.serial, ("device",))
        inventory = phone_inventory(tmp_path / "devices.yaml", fake.serial, adb_server.port)
        argv = ["bench", "--device", "phone", "--devices", str(inventory)]
        argv += ["--framework", "llama-server", "--server-binary", str(llama_server_binary)]
        argv += ["--max-new-tokens", "8", "--threads", "1", "--warmup", "0"]
        argv += ["--conversations", "1", "--probe-rate", "10", "--idle-baseline", "1"]
        code, _, err = Melt([*argv, "--store", str(tmp_path / "melt.db")]).finish()
    finally:
        fake.kill()
        adb_server.adb("disconnect", fake.serial)
    assert code == 0, err
    store = open_store(str(tmp_path / "melt.db"), create=False)
    run, turns = the_run(tmp_path)
    offset = run["settings"]["device_run"]["clock_offset"]
    assert offset["method"] == "adb shell /proc/uptime (CLOCK_BOOTTIME)"
    assert abs(offset["offset_ns"] - AHEAD_S * 10**9) < 10**9  # + this machine's suspend time
    trace_clock = run["settings"]["engine_settings"]["trace_clock"]
    assert trace_clock["clock"] == "the device's"
    sampling = run_sampling(store, run["id"])
    assert sampling is not None
    idle = sampling["windows"]["idle_baseline"]
    first_submit = min(t["submit_ns"] for t in turns)
    last_end = max(t["end_ns"] for t in turns)
    assert idle["end_ns"] <= first_submit  # the idle window, then the turns, on one clock
    assert last_end - idle["start_ns"] < 120 * 10**9
    times = [s.t_ns for s in run_samples(store, run["id"])]
    assert times and idle["start_ns"] - 10**9 <= min(times) and max(times) <= last_end + 10**9
    inside_idle = [t for t in times if idle["start_ns"] <= t <= idle["end_ns"]]
    assert inside_idle  # the idle baseline has the phone's samples in it
