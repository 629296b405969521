"""A device profile: facts about a device that its sensors do not give.

YAML, e.g.::

    name: my-laptop
    battery_capacity_mah: 5000          # when the fuel gauge has no charge_full
    power_model:                        # only for `--power-model estimated`
      idle_w: 6.0                       # whole-device power with all cores idle
      active_w_per_core: 3.5            # added per fully busy core

The power model's figures are estimates by construction; where they come from (a
datasheet, a wall meter) is the profile author's to record in `power_model.source`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from melt.files import load_yaml, require_mapping, validate


class CpuPowerModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    idle_w: float = Field(ge=0.0)
    active_w_per_core: float = Field(ge=0.0)
    source: str = "device profile"


class DeviceProfile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "device"
    battery_capacity_mah: float | None = Field(None, gt=0.0)
    power_model: CpuPowerModel | None = None


def load_device_profile(path: Path) -> DeviceProfile:
    what = "device profile"
    data = load_yaml(path, what, "pass --device-profile FILE.yaml")
    where = f"{what} '{path}'"
    return validate(DeviceProfile, dict(require_mapping(data, where)), where)
