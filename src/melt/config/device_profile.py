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

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from melt.errors import MeltError


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
    where = f"device profile '{path}'"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise MeltError(f"{where} not found (pass --device-profile FILE.yaml)") from None
    except (OSError, yaml.YAMLError) as exc:
        raise MeltError(f"{where} is not readable YAML ({exc})") from None
    try:
        return DeviceProfile.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = ".".join(str(p) for p in error["loc"])
        if error["type"] == "extra_forbidden":
            raise MeltError(
                f"{where}: unknown key '{loc}' (known keys: name, battery_capacity_mah, "
                "power_model.idle_w, power_model.active_w_per_core, power_model.source)"
            ) from None
        raise MeltError(
            f"{where}: {loc}: {error['msg'].lower()} (got {error.get('input')!r})"
        ) from None
