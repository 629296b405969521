"""The inventory entry of a phone over ADB, and the device it makes.

- name: pixel7
  transport: adb
  serial: 1A2B3C4D5E      # `adb devices`; or HOST:PORT for wireless debugging
  llama_server: builds/android-arm64/llama-server   # optional, a build for its CPU
  battery_mah: 4355       # optional, the rated capacity
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from melt.devices.adb import DEFAULT_WORKDIR, AdbDevice
from melt.devices.entry_fields import DeviceName, Port, Tag


class AdbDeviceEntry(BaseModel):
    """One phone in the inventory (`transport: adb`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: DeviceName
    transport: Literal["adb"]
    tags: tuple[Tag, ...] = ()
    serial: str = Field(min_length=1, description="adb serial: USB serial or HOST:PORT")
    llama_server: str | None = Field(None, description="llama-server built for this phone")
    battery_mah: int | None = Field(
        None, gt=0, strict=True, description="rated battery capacity, mAh"
    )
    workdir: str = DEFAULT_WORKDIR
    adb_server_port: Port | None = None

    @property
    def where(self) -> str:
        return self.serial

    @property
    def on_controller(self) -> bool:
        return False

    @field_validator("workdir")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"workdir must be an absolute path on the phone, not '{value}'")
        return value.rstrip("/") or "/"


def from_entry(entry: AdbDeviceEntry) -> AdbDevice:
    """The device of an inventory entry; what the user stated goes to its facts' `extra`."""
    return AdbDevice(
        entry.serial,
        name=entry.name,
        workdir=entry.workdir,
        adb_server_port=entry.adb_server_port,
        extra_facts={"battery_mah": entry.battery_mah, "llama_server": entry.llama_server},
    )
