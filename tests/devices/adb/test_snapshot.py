"""A snapshot of the phone's sysfs trees answers as the phone does, in one round trip."""

from __future__ import annotations

from melt.devices.adb import AdbDevice
from melt.devices.snapshot import SnapshotView

TREES = [("/sys/class/power_supply", 2), ("/sys/class/thermal", 2)]


def test_a_snapshot_answers_as_the_phone_does_after_one_round_trip(device: AdbDevice) -> None:
    calls: list[object] = []
    real_run = device.run
    device.run = lambda argv, timeout=60.0: calls.append(argv) or real_run(argv, timeout)  # type: ignore[method-assign]
    view = SnapshotView(device, TREES)
    assert len(calls) == 1
    walked = []
    for root, _ in TREES:
        for entry in view.list_dir(root):
            walked.append(f"{root}/{entry}")
            walked += [f"{root}/{entry}/{name}" for name in view.list_dir(f"{root}/{entry}")]
    texts = {p: view.read_text(p) for p in walked if not view.is_dir(p)}
    assert len(calls) == 1  # the walk above came from the snapshot
    for root, _ in TREES:
        assert view.list_dir(root) == device.list_dir(root)
    assert "/sys/class/thermal/thermal_zone1/trip_point_0_temp" in walked
    for path in walked:
        assert view.is_dir(path) == device.is_dir(path)
        if not device.is_dir(path):
            assert texts[path].strip() == device.read_text(path).strip().split("\n")[0]
    assert not view.exists("/sys/class/thermal/thermal_zone9")
    # outside the trees, the phone answers
    assert view.read_text("/proc/meminfo") == device.read_text("/proc/meminfo")
