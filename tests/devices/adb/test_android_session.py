"""The run-time settings guard on the fake phone: screen kept on, every setting restored (also
after a failure), a lost phone reported, USB power recorded, the user's power hooks run."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest
from tests.fixtures.adb.harness import AdbServer, FakePhone

from melt.devices.adb import AdbDevice
from melt.devices.android_session import USB_POWER_NOTE, AndroidRunSettings
from melt.errors import MeltError


def settings_of(root: Path) -> dict[str, str]:
    base = root / ".state/settings"
    return {f"{p.parent.name}/{p.name}": p.read_text().strip() for p in base.glob("*/*")}


def test_settings_are_held_during_the_run_and_restored_after_a_failure(
    device: AdbDevice, phone: FakePhone
):
    (phone.root / ".state/settings/system/screen_off_timeout").unlink()  # unset before the run
    before = settings_of(phone.root)
    guard = AndroidRunSettings(device, brightness=200)
    with pytest.raises(RuntimeError, match="the run failed"), guard:
        during = settings_of(phone.root)
        raise RuntimeError("the run failed")
    assert during["system/screen_brightness"] == "200"
    assert during["system/screen_brightness_mode"] == "0"
    assert during["system/screen_off_timeout"] == "1800000"
    assert during["global/stay_on_while_plugged_in"] == "7"
    assert "KEYCODE_WAKEUP" in (phone.root / ".state/input.log").read_text()
    assert settings_of(phone.root) == before  # the unset one is unset again
    record = guard.record()
    assert record["settings_restored"] is True
    assert {(c["key"], c["before"]) for c in record["settings"]} == {
        ("screen_brightness_mode", "1"),
        ("screen_brightness", "128"),
        ("screen_off_timeout", "null"),
        ("stay_on_while_plugged_in", "0"),
    }


def test_a_phone_gone_at_the_end_is_reported_not_restored_then_restored_when_back(
    adb_server: AdbServer, device: AdbDevice, phone: FakePhone
):
    guard = AndroidRunSettings(device, brightness=10)
    with guard:
        phone.kill()
    assert guard.restored is False
    assert guard.record()["settings_restored"] is False
    assert "system/screen_brightness=128" in guard.not_restored()
    assert all(c.error and "adb device" in c.error for c in guard.changes)
    assert settings_of(phone.root)["system/screen_brightness"] == "10"

    back = FakePhone(phone.root, port=phone.port)  # the phone comes back on the same address
    try:
        adb_server.adb("disconnect", back.serial)
        assert "connected" in adb_server.adb("connect", back.serial).stdout
        adb_server.wait_state(back.serial, ("device",))
        assert guard.restore() is True
        assert settings_of(phone.root)["system/screen_brightness"] == "128"
    finally:
        back.kill()


def test_usb_power_is_recorded_with_a_note_for_the_results(device: AdbDevice, phone: FakePhone):
    (phone.root / "sys/class/power_supply/usb/online").write_text("1\n")
    with AndroidRunSettings(device) as guard:
        pass
    assert guard.usb_powered is True
    assert guard.usb_power_note == USB_POWER_NOTE
    assert guard.record()["usb_powered"] is True


def test_power_hooks_cut_usb_before_measuring_and_restore_it_after(
    device: AdbDevice, phone: FakePhone, tmp_path: Path
):
    online = phone.root / "sys/class/power_supply/usb/online"
    online.write_text("1\n")
    log = tmp_path / "hub.log"

    def hub(state: str) -> str:  # stands for the user's hub command (e.g. ykushcmd -d 1)
        code = (
            f"open({str(online)!r}, 'w').write({state!r} + '\\n');"
            f"open({str(log)!r}, 'a').write({state!r})"
        )
        return f"{shlex.quote(sys.executable)} -c {shlex.quote(code)}"

    with AndroidRunSettings(device, usb_power_off_cmd=hub("0"), usb_power_on_cmd=hub("1")) as g:
        assert online.read_text() == "0\n"
    assert log.read_text() == "01"
    assert online.read_text() == "1\n"
    assert g.usb_powered is False and g.usb_power_note is None
    assert [h.flag for h in g.hooks] == ["--usb-power-off-cmd", "--usb-power-on-cmd"]


def test_a_failing_hook_is_one_line_naming_the_flag(device: AdbDevice, phone: FakePhone):
    before = settings_of(phone.root)
    with pytest.raises(MeltError) as err, AndroidRunSettings(device, usb_power_off_cmd="false"):
        pass
    assert str(err.value).startswith("--usb-power-off-cmd 'false' exited with status 1")
    assert "\n" not in str(err.value)
    assert settings_of(phone.root) == before
