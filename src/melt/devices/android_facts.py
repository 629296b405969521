"""What an Android phone says about itself: getprop, sysfs and procfs read through its file
view, `dumpsys battery` when sysfs has no battery. Parsing here is pure; `read_android_facts`
does the few round trips (getprop, three directory listings, one `read_many`, `uname`, `df`).

Units follow the kernel's (Documentation/ABI/testing/sysfs-class-power, as probes/battery.py):
capacity %, temp 0.1 °C, voltage_now µV, charge_counter µAh; `dumpsys battery` gives
voltage in mV and temperature in 0.1 °C.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from melt.devices.base import CommandResult, DeviceFacts, FileView

CPU_ROOT = "/sys/devices/system/cpu"
SUPPLY_ROOT = "/sys/class/power_supply"
THERMAL_ROOT = "/sys/class/thermal"
BATTERY_FILES = ("capacity", "status", "temp", "charge_counter", "voltage_now", "charge_full")
SUPPLY_FILES = ("type", "online", *BATTERY_FILES)
USB_TYPES = frozenset({"USB", "USB_DCP", "USB_CDP", "USB_ACA", "USB_C", "USB_PD", "USB_PD_DRP"})
_CPU = re.compile(r"cpu(\d+)$")
_ZONE = re.compile(r"thermal_zone(\d+)$")
PROP_KEYS = {
    "model": "ro.product.model",
    "manufacturer": "ro.product.manufacturer",
    "device": "ro.product.device",
    "soc_model": "ro.soc.model",
    "soc_manufacturer": "ro.soc.manufacturer",
    "board_platform": "ro.board.platform",
    "android_release": "ro.build.version.release",
    "sdk": "ro.build.version.sdk",
    "abilist": "ro.product.cpu.abilist",
    "fingerprint": "ro.build.fingerprint",
}


class AndroidShell(FileView, Protocol):
    """What the facts need of a phone beyond its file view."""

    name: str
    serial: str

    def getprop(self) -> dict[str, str]: ...

    def free_bytes(self, path: str) -> int | None: ...

    def workdir(self) -> str: ...

    def run(self, argv: Sequence[str], timeout: float = 60.0) -> CommandResult: ...


def _int(text: str | None) -> int | None:
    try:
        return None if text is None else int(text.strip())
    except ValueError:
        return None


def meminfo_bytes(text: str | None, key: str = "MemTotal") -> int | None:
    for line in (text or "").splitlines():
        name, _, rest = line.partition(":")
        if name == key and rest.split():
            return int(rest.split()[0]) * 1024
    return None


def parse_dumpsys_battery(text: str) -> dict[str, Any]:
    """`dumpsys battery` → the battery fact dict (level %, temperature °C, voltage V, ...)."""
    raw = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition(": ")
        if sep:
            raw[key.strip().lower()] = value.strip()
    statuses = {
        "1": "Unknown",
        "2": "Charging",
        "3": "Discharging",
        "4": "Not charging",
        "5": "Full",
    }
    temp = _int(raw.get("temperature"))
    volts = _int(raw.get("voltage"))
    return {
        "level_pct": _int(raw.get("level")),
        "status": statuses.get(raw.get("status", ""), raw.get("status")),
        "temp_c": None if temp is None else temp / 10.0,
        "voltage_v": None if volts is None else volts / 1000.0,
        "charge_counter_uah": _int(raw.get("charge counter")),
        "usb_powered": raw.get("usb powered") == "true",
        "ac_powered": raw.get("ac powered") == "true",
        "source": "dumpsys battery",
    }


def supply_online(
    files: Mapping[str, str | None], supplies: list[str], types: frozenset[str]
) -> bool | None:
    """Whether a power supply of one of `types` is online; None when the phone has none."""
    kinds = {s: (files.get(f"{SUPPLY_ROOT}/{s}/type") or "").strip() for s in supplies}
    matching = [s for s, kind in kinds.items() if kind in types]
    if not matching:
        return None
    return any((files.get(f"{SUPPLY_ROOT}/{s}/online") or "").strip() == "1" for s in matching)


def battery_from_sysfs(
    files: Mapping[str, str | None], supplies: list[str]
) -> dict[str, Any] | None:
    """The battery fact dict from power_supply files (`files` keyed by full path)."""

    def get(supply: str, name: str) -> str | None:
        value = files.get(f"{SUPPLY_ROOT}/{supply}/{name}")
        return None if value is None else value.strip()

    battery = next((s for s in supplies if get(s, "type") == "Battery"), None)
    if battery is None:
        return None
    temp = _int(get(battery, "temp"))
    volts = _int(get(battery, "voltage_now"))
    return {
        "level_pct": _int(get(battery, "capacity")),
        "status": get(battery, "status"),
        "temp_c": None if temp is None else temp / 10.0,
        "voltage_v": None if volts is None else volts / 1e6,
        "charge_counter_uah": _int(get(battery, "charge_counter")),
        "usb_powered": supply_online(files, supplies, USB_TYPES),
        "ac_powered": supply_online(files, supplies, frozenset({"Mains"})),
        "source": f"sysfs {SUPPLY_ROOT}/{battery}",
    }


def _list(view: FileView, path: str) -> list[str]:
    try:
        return view.list_dir(path)
    except OSError:
        return []


def read_android_facts(phone: AndroidShell, extra: Mapping[str, Any]) -> DeviceFacts:
    props = phone.getprop()
    cpus = sorted((n for n in _list(phone, CPU_ROOT) if _CPU.match(n)), key=lambda n: int(n[3:]))
    supplies = _list(phone, SUPPLY_ROOT)
    zones = [n for n in _list(phone, THERMAL_ROOT) if _ZONE.match(n)]
    paths = ["/proc/meminfo", "/proc/cpuinfo"]
    paths += [f"{CPU_ROOT}/{c}/cpufreq/cpuinfo_max_freq" for c in cpus]
    paths += [f"{SUPPLY_ROOT}/{s}/{f}" for s in supplies for f in SUPPLY_FILES]
    paths += [f"{THERMAL_ROOT}/{z}/{f}" for z in zones for f in ("type", "temp")]
    files = phone.read_many(paths)

    battery = battery_from_sysfs(files, supplies)
    if battery is None:
        dumpsys = phone.run(["dumpsys", "battery"])
        battery = parse_dumpsys_battery(dumpsys.stdout) if dumpsys.ok else None
    thermal = {}
    for zone in zones:
        kind = (files.get(f"{THERMAL_ROOT}/{zone}/type") or zone).strip()
        temp = _int(files.get(f"{THERMAL_ROOT}/{zone}/temp"))
        if temp is not None:
            thermal[kind if kind not in thermal else f"{kind}#{zone[12:]}"] = temp / 1000.0
    android = {key: props.get(prop) for key, prop in PROP_KEYS.items()}
    release, sdk = android["android_release"], android["sdk"]
    kernel = phone.run(["uname", "-r"])
    workdir = phone.workdir()
    abis = (android["abilist"] or props.get("ro.product.cpu.abi") or "").split(",")
    return DeviceFacts(
        name=phone.name,
        transport="adb",
        host=phone.serial,
        cpu_model=android["soc_model"] or android["board_platform"] or _hardware(files),
        physical_cores=None,
        logical_cores=len(cpus) or None,
        cpu_max_freq_khz=tuple(
            _int(files.get(f"{CPU_ROOT}/{c}/cpufreq/cpuinfo_max_freq")) for c in cpus
        ),
        ram_bytes=meminfo_bytes(files.get("/proc/meminfo")),
        os=None if release is None else f"Android {release} (API {sdk})",
        kernel=kernel.stdout.strip() if kernel.ok else None,
        arch=abis[0] or None,
        python=None,
        llama_cpp_python=None,
        workdir=workdir,
        workdir_free_bytes=phone.free_bytes(workdir),
        extra={
            "serial": phone.serial,
            "android": android,
            "battery": battery,
            "thermal_c": thermal,
            **extra,
        },
    )


def _hardware(files: Mapping[str, str | None]) -> str | None:
    for line in (files.get("/proc/cpuinfo") or "").splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "Hardware":
            return value.strip()
    return None
