"""A phone's settings during a run, and the USB power that corrupts battery energy.

`AndroidRunSettings` is a context manager around a measured run on an Android phone: it keeps
the screen on at a fixed brightness (manual brightness mode, a long screen-off timeout, stay
awake while plugged in, a wake key) and restores every setting it changed afterwards, also
when the run fails. Each change is recorded with its value before, during, and whether it was
put back; a phone that is gone when the run ends leaves them `restored=False`, and
`restore()` can be called again once it is back.

USB: a phone on a powered USB port charges while it is measured, so its fuel gauge reports
the charger's current mixed with the load's, and battery-based energy is wrong. The guard
reads the phone's USB supply (`/sys/class/power_supply/*/online` of USB-type supplies) when
the run starts and ends, after the user's `--usb-power-off-cmd` (e.g. a YKUSH hub command)
and before `--usb-power-on-cmd`; `usb_powered` and `usb_power_note` say so for the results.
"""

from __future__ import annotations

import logging
import shlex
import subprocess
from dataclasses import asdict, dataclass, field
from types import TracebackType
from typing import Any

from melt.devices.android_facts import SUPPLY_ROOT, USB_TYPES, supply_online
from melt.devices.base import Device, DeviceError
from melt.errors import MeltError

log = logging.getLogger(__name__)

ANDROID_NULL = "null"  # what `settings get` prints for a setting that is not set
STAY_ON_ALL_PLUGS = "7"  # BatteryManager.BATTERY_PLUGGED_AC | USB | WIRELESS
SCREEN_OFF_TIMEOUT_MS = "1800000"
HOOK_TIMEOUT_S = 120.0
USB_POWER_NOTE = (
    "USB was supplying power to the phone during the run: it charged while measured, so "
    "battery-based power and energy are not the load's (cut USB power with "
    "--usb-power-off-cmd, or use wireless debugging)"
)


@dataclass
class SettingChange:
    """One Android setting melt changed: `before` is what `settings get` printed."""

    namespace: str
    key: str
    before: str
    during: str
    restored: bool = False
    error: str | None = None


@dataclass(frozen=True, slots=True)
class HookRun:
    """A user command run on the controller around the measurement."""

    flag: str
    command: str
    returncode: int


def run_hook(flag: str, command: str) -> HookRun:
    """Run the user's `--usb-power-off-cmd`/`--usb-power-on-cmd` on the controller."""
    try:
        done = subprocess.run(
            shlex.split(command), capture_output=True, text=True, timeout=HOOK_TIMEOUT_S
        )
    except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
        raise MeltError(f"{flag} '{command}' could not run ({exc}): fix the command") from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
        raise MeltError(
            f"{flag} '{command}' exited with status {done.returncode} ({tail[0]}): fix the command"
        )
    return HookRun(flag, command, done.returncode)


def usb_supplying_power(device: Device) -> bool | None:
    """Whether a USB-type power supply of the phone is online; None when it has none."""
    try:
        supplies = device.list_dir(SUPPLY_ROOT)
    except OSError:
        return None
    files = device.read_many(
        [f"{SUPPLY_ROOT}/{s}/{name}" for s in supplies for name in ("type", "online")]
    )
    return supply_online(files, supplies, USB_TYPES)


@dataclass
class AndroidRunSettings:
    """Screen on at `brightness` (0–255) during a run; see the module docstring."""

    device: Device
    brightness: int = 128
    usb_power_off_cmd: str | None = None
    usb_power_on_cmd: str | None = None
    changes: list[SettingChange] = field(default_factory=list)
    hooks: list[HookRun] = field(default_factory=list)
    usb_powered_readings: list[bool] = field(default_factory=list)

    def wanted(self) -> list[tuple[str, str, str]]:
        return [
            ("system", "screen_brightness_mode", "0"),
            ("system", "screen_brightness", str(self.brightness)),
            ("system", "screen_off_timeout", SCREEN_OFF_TIMEOUT_MS),
            ("global", "stay_on_while_plugged_in", STAY_ON_ALL_PLUGS),
        ]

    def _settings(self, *args: str) -> str:
        result = self.device.run(["settings", *args])
        if not result.ok:
            raise DeviceError(
                f"{self.device.name}: 'settings {' '.join(args)}' failed "
                f"({result.stderr.strip() or result.stdout.strip()})"
            )
        return result.stdout.strip()

    def _read_usb(self) -> None:
        powered = usb_supplying_power(self.device)
        if powered is not None:
            self.usb_powered_readings.append(powered)

    def __enter__(self) -> AndroidRunSettings:
        if self.usb_power_off_cmd:
            self.hooks.append(run_hook("--usb-power-off-cmd", self.usb_power_off_cmd))
        try:
            self._read_usb()
            for namespace, key, value in self.wanted():
                before = self._settings("get", namespace, key)
                self.changes.append(SettingChange(namespace, key, before, value))
                self._settings("put", namespace, key, value)
            self.device.run(["input", "keyevent", "KEYCODE_WAKEUP"])
        except BaseException:
            self._finish()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._finish()

    def _finish(self) -> None:
        try:
            self._read_usb()
        except DeviceError as err:
            log.warning("USB power at the end of the run unknown: %s", err)
        self.restore()
        if self.usb_power_on_cmd:
            try:
                self.hooks.append(run_hook("--usb-power-on-cmd", self.usb_power_on_cmd))
            except MeltError as err:
                log.error("%s", err)

    def restore(self) -> bool:
        """Put back every changed setting not yet restored (newest first); True when all are."""
        pending = [c for c in reversed(self.changes) if not c.restored]
        for i, change in enumerate(pending):
            try:
                if change.before == ANDROID_NULL:
                    self._settings("delete", change.namespace, change.key)
                else:
                    self._settings("put", change.namespace, change.key, change.before)
            except DeviceError as err:  # the phone is gone: the rest cannot be restored either
                for left in pending[i:]:
                    left.error = str(err)
                break
            change.restored, change.error = True, None
        if not self.restored:
            log.warning("%s: settings not restored: %s", self.device.name, self.not_restored())
        return self.restored

    @property
    def restored(self) -> bool:
        return all(c.restored for c in self.changes)

    def not_restored(self) -> list[str]:
        return [f"{c.namespace}/{c.key}={c.before}" for c in self.changes if not c.restored]

    @property
    def usb_powered(self) -> bool | None:
        """True when USB supplied power at the start or end of the run; None when unknown."""
        if not self.usb_powered_readings:
            return None
        return any(self.usb_powered_readings)

    @property
    def usb_power_note(self) -> str | None:
        return USB_POWER_NOTE if self.usb_powered else None

    def record(self) -> dict[str, Any]:
        """What the results store: each change, whether all were restored, USB power."""
        return {
            "settings": [asdict(c) for c in self.changes],
            "settings_restored": self.restored,
            "usb_powered": self.usb_powered,
            "usb_power_note": self.usb_power_note,
            "hooks": [asdict(h) for h in self.hooks],
        }
