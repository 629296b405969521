"""Battery fuel gauge (Documentation/ABI/testing/sysfs-class-power): voltage_now (µV),
current_now (µA), capacity (%), status, temp (0.1 °C), charge_now / charge_full (µAh).

Sign convention: the ABI says `current_now` is negative while discharging, but many phone
fuel gauges report a positive value while discharging. With `sign="auto"` the battery's
`status` decides: `Discharging` means current flows out of the battery whatever the sign;
`Charging` means it flows in; otherwise the ABI sign is used. The probe reports
`current` and `power` as *discharge* figures: positive while the battery is drained.

The probe is a channel plan (probes/channels.py), so the phone's sh sampler reads it too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, cast

from melt.devices.fspath import SysPath
from melt.probes.base import (
    Availability,
    ProbeInfo,
    ProbePolicy,
    ProbeReadError,
    read_int,
    read_optional_text,
)
from melt.probes.channels import Channel, Derived, PlannedProbe, ProbePlan, Value, register_op
from melt.probes.registry import register_probe
from melt.traces.sample import Provenance

Sign = Literal["auto", "abi", "inverted"]
MICRO = 1e6
# (file, channel, scale, unit) of the optional files a fuel gauge may have
OPTIONAL = (
    ("capacity", "capacity", 1.0, "%"),
    ("temp", "temp", 10.0, "°C"),
    ("charge_now", "charge_now", 1000.0, "mAh"),
)


def discharge_current_a(current_now_ua: int, status: str, sign: Sign = "auto") -> float:
    """Current out of the battery in amperes (negative while it charges)."""
    amps = current_now_ua / MICRO
    if sign == "abi":
        return -amps
    if sign == "inverted":
        return amps
    if status == "Discharging":
        return abs(amps)
    if status == "Charging":
        return -abs(amps)
    return -amps


@register_op("discharge_current")
def _discharge_current(values: Sequence[Value], args: Sequence[str]) -> float:
    """The plan's form of `discharge_current_a`: inputs `current_now` (µA) and, when the
    gauge has it, `status`; args the sign convention."""
    status = str(values[1]) if len(values) > 1 else "Unknown"
    return discharge_current_a(int(values[0]), status, cast(Sign, args[0]))


@register_probe("battery")
class BatteryProbe(PlannedProbe):
    """The first power supply whose `type` is `Battery` (or the one named `supply`)."""

    name = "battery"
    policy = ProbePolicy("power", power_rank=20, current_channel="current")
    trees = (("sys/class/power_supply", 2),)

    def __init__(self, root: SysPath, supply: str | None = None, sign: Sign = "auto") -> None:
        self.root = root
        self.base = root / "sys" / "class" / "power_supply"
        self.supply = supply
        self.sign = sign
        self._dir: SysPath | None = None

    def _find(self) -> SysPath | None:
        if self._dir is not None or not self.base.is_dir():
            return self._dir
        for entry in sorted(self.base.iterdir(), key=lambda e: e.name):
            if self.supply is not None and entry.name != self.supply:
                continue
            if read_optional_text(entry / "type") == "Battery":
                self._dir = entry
                break
        return self._dir

    def available(self) -> Availability:
        try:
            found = self._find()
            if found is None:
                return Availability.absent(f"no power supply of type Battery under {self.base}")
            read_int(found / "voltage_now")
            read_int(found / "current_now")
        except ProbeReadError as exc:
            return Availability.absent(str(exc))
        return Availability.found(f"battery {found.name} under {self.base}")

    def _optional_int(self, name: str) -> int | None:
        assert self._dir is not None
        path = self._dir / name
        return read_int(path) if path.exists() else None

    def info(self) -> ProbeInfo:
        found = self._find()
        assert found is not None
        charge_full = self._optional_int("charge_full")
        design = self._optional_int("charge_full_design")
        return ProbeInfo(
            name=self.name,
            signal="battery power",
            unit="W",
            provenance=Provenance.MEASURED,
            source=f"{found}/voltage_now × current_now",
            resolution="1 µV × 1 µA as reported (fuel gauges update at 1–10 Hz)",
            max_rate_hz=10.0,
            facts={
                "supply": found.name,
                "current_sign": self.sign,
                "charge_full_mah": None if charge_full is None else charge_full / 1000.0,
                "charge_full_design_mah": None if design is None else design / 1000.0,
                "technology": read_optional_text(found / "technology"),
                "model_name": read_optional_text(found / "model_name"),
            },
            **self.policy.info_fields(),
        )

    def _plan(self) -> ProbePlan:
        """Voltage, discharge current, power = V × A and whether it charges, from
        `voltage_now` (µV), `current_now` (µA) and `status`; capacity (%), temp (0.1 °C)
        and charge_now (µAh) where the gauge has them."""
        found = self._find()
        if found is None:
            raise ProbeReadError(f"no battery under {self.base}")
        n = self.name

        def path(name: str) -> str:
            return str(found / name)

        has_status = (found / "status").exists()
        steps: list[Channel | Derived] = [
            Channel(n, "voltage", path("voltage_now"), "V", scale=MICRO),
            Channel(n, "current_now", path("current_now"), "µA", emit=False),
        ]
        if has_status:
            steps.append(Channel(n, "status", path("status"), "", parser="text", emit=False))
        current_inputs = ("current_now", "status") if has_status else ("current_now",)
        steps += [
            Derived(n, "current", "A", "discharge_current", current_inputs, (self.sign,)),
            Derived(n, "power", "W", "product", ("voltage", "current")),
        ]
        if has_status:
            steps.append(Derived(n, "charging", "bool", "equals", ("status",), ("Charging",)))
        steps += [
            Channel(n, channel, path(file), unit, scale=scale)
            for file, channel, scale, unit in OPTIONAL
            if (found / file).exists()
        ]
        return ProbePlan(tuple(steps))
