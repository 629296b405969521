"""The device inventory: `melt-devices.yaml` in the working directory, `--devices FILE` or
`$MELT_DEVICES`, validated with pydantic; errors name the device and the field.

```yaml
devices:
  - name: orin
    transport: ssh
    host: 192.168.1.20
    user: melt
    python: /usr/bin/python3
```

`local` always exists (this machine). Each transport registers how an entry becomes a
`Device`, so a new transport is one module and one entry type.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from melt.devices.adb_entry import AdbDeviceEntry
from melt.devices.base import Device
from melt.devices.entry_fields import BatteryMah, DeviceName, Port, Tag
from melt.errors import MeltError

DEFAULT_FILE = "melt-devices.yaml"
ENV_VAR = "MELT_DEVICES"
SECRET_FIELDS = ("password", "passphrase", "secret", "api_key")


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: DeviceName
    battery_mah: BatteryMah | None = None
    tags: tuple[Tag, ...] = ()
    llama_server: str | None = None


class LocalEntry(_Entry):
    transport: Literal["local"] = "local"
    root: str = "/"

    @property
    def where(self) -> str:
        """Where the device is, as `melt devices list` shows it."""
        return self.root

    @property
    def on_controller(self) -> bool:
        return True


class SshEntry(_Entry):
    transport: Literal["ssh"]
    host: str = Field(min_length=1)
    port: Port | None = None
    user: str | None = None
    identity_file: str | None = None
    known_hosts: str | None = None
    python: str = "python3"
    workdir: str = "~/.cache/melt-device"

    @property
    def where(self) -> str:
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        return f"{user}{self.host}{port}"

    @property
    def on_controller(self) -> bool:
        return False

    @field_validator("workdir")
    @classmethod
    def _home_or_absolute(cls, value: str) -> str:
        """`~` is the login's home as `~/…` is; `~user` is not expanded (the device's shell
        never sees it unquoted), so it would become a directory named `~user`."""
        if value == "~":
            return "~/"
        if value.startswith("~") and not value.startswith("~/"):
            raise ValueError(
                f"'{value}' is not expanded on the device; write ~/PATH or an absolute path"
            )
        return value


AnyEntry = LocalEntry | SshEntry | AdbDeviceEntry
Entry = Annotated[AnyEntry, Field(discriminator="transport")]


class Inventory(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    devices: tuple[Entry, ...] = ()


@dataclass(frozen=True, slots=True)
class ConnectOptions:
    """How to open a device this time (not part of the inventory)."""

    accept_new_host_key: bool = False
    root: Path | None = None


DeviceFactory = Callable[[Any, ConnectOptions], Device]
_TRANSPORTS: dict[str, DeviceFactory] = {}


def register_transport(name: str) -> Callable[[DeviceFactory], DeviceFactory]:
    def add(factory: DeviceFactory) -> DeviceFactory:
        _TRANSPORTS[name] = factory
        return factory

    return add


def _extra_facts(entry: _Entry) -> dict[str, object]:
    """The entry's facts that the device cannot tell melt itself: its battery's capacity
    and the llama-server built for it (the frameworks' `llama_server` fact)."""
    facts = {"battery_mah": entry.battery_mah, "llama_server": entry.llama_server}
    return {k: v for k, v in facts.items() if v}


@register_transport("local")
def _local(entry: LocalEntry, options: ConnectOptions) -> Device:
    from melt.devices.local import LocalDevice

    root = options.root if options.root is not None else Path(entry.root)
    return LocalDevice(root=root, name=entry.name, extra=_extra_facts(entry))


@register_transport("ssh")
def _ssh(entry: SshEntry, options: ConnectOptions) -> Device:
    from melt.devices.ssh import SshDevice, resolve_target

    extra = _extra_facts(entry)
    target = resolve_target(
        entry.name,
        entry.host,
        entry.port,
        entry.user,
        entry.identity_file,
        entry.known_hosts,
        entry.python,
        entry.workdir,
        extra,
    )
    return SshDevice(target, accept_new_host_key=options.accept_new_host_key)


@register_transport("adb")
def _adb(entry: AdbDeviceEntry, options: ConnectOptions) -> Device:
    from melt.devices.adb_entry import from_entry

    return from_entry(entry)


def inventory_path(explicit: Path | None) -> Path | None:
    """--devices, else $MELT_DEVICES, else ./melt-devices.yaml when it exists."""
    if explicit is not None:
        if not explicit.is_file():
            raise MeltError(f"--devices: no inventory file at '{explicit}'")
        return explicit
    env = os.environ.get(ENV_VAR)
    if env:
        if not Path(env).is_file():
            raise MeltError(f"{ENV_VAR}: no inventory file at '{env}'")
        return Path(env)
    default = Path(DEFAULT_FILE)
    return default if default.is_file() else None


def _field_error(data: Any, exc: ValidationError, where: Path) -> MeltError:
    first = exc.errors()[0]
    loc = list(first["loc"])
    device = ""
    if len(loc) >= 2 and loc[0] == "devices" and isinstance(loc[1], int):
        entries = data.get("devices") or []
        entry = entries[loc[1]] if loc[1] < len(entries) else {}
        label = entry.get("name") if isinstance(entry, dict) else None
        device = f"device '{label}'" if label else f"device #{loc[1] + 1}"
        loc = [p for p in loc[2:] if p not in _TRANSPORTS]
    field = ".".join(str(p) for p in loc) or "(entry)"
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden" and loc and str(loc[-1]) in SECRET_FIELDS:
        message = "never put a password or secret in the inventory; use a key or ssh-agent"
    elif first["type"] in ("union_tag_invalid", "union_tag_not_found"):
        field = "transport"
        message = f"must be one of {', '.join(sorted(_TRANSPORTS))}"
    prefix = f"{device}: " if device else ""
    return MeltError(f"inventory '{where}': {prefix}{field}: {message}")


def load_inventory(path: Path | None) -> Inventory:
    if path is None:
        return Inventory()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError:
        raise MeltError(f"inventory '{path}' is not UTF-8 text; save it as UTF-8") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise MeltError(f"inventory '{path}' is not valid YAML{where}; fix the file") from None
    if not isinstance(data, dict):
        raise MeltError(f"inventory '{path}' must be a mapping with a 'devices:' list")
    try:
        inventory = Inventory.model_validate(data)
    except ValidationError as exc:
        raise _field_error(data, exc, path) from None
    names = [d.name for d in inventory.devices]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise MeltError(f"inventory '{path}': device name '{dupes[0]}' is used twice")
    return inventory


def entries(inventory: Inventory) -> list[AnyEntry]:
    """Every device: `local` first (unless the inventory redefines it), then the file's."""
    listed = list(inventory.devices)
    if not any(d.name == "local" for d in listed):
        listed.insert(0, LocalEntry(name="local"))
    return listed


def find_entry(inventory: Inventory, name: str) -> AnyEntry:
    for entry in entries(inventory):
        if entry.name == name:
            return entry
    known = ", ".join(e.name for e in entries(inventory))
    raise MeltError(
        f"--device: no device named '{name}' (known: {known}); add it to {DEFAULT_FILE} "
        "or pass --devices FILE"
    )


def open_device(entry: Any, options: ConnectOptions | None = None) -> Device:
    return _TRANSPORTS[entry.transport](entry, options or ConnectOptions())
