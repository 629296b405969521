"""Where llama.cpp's own tools (llama-bench, llama-perplexity) of a run's llama.cpp are, and
putting one on the run's device.

`tool_path` is the one place that decides which binary a tool is: the tool of the same
build as the run's llama.cpp. That is the file beside the llama-server binary the user named
(`--server-binary`, else the device's inventory `llama_server:`, else on this machine
`$MELT_LLAMA_SERVER`), else the runtime melt built for the device's ABI (`melt runtimes`,
from the llama.cpp the in-process engine vendors), which is what the run's llama-server is
when none was named.
"""

from __future__ import annotations

import os
import posixpath
import shlex
from dataclasses import dataclass
from pathlib import Path

from melt.devices.base import Device, DeviceError, DeviceFacts
from melt.devices.deploy import file_sha256
from melt.errors import MeltError
from melt.frameworks import FrameworkOptions
from melt.frameworks.llama_server.framework import BINARY_ENV, cached_binary
from melt.runners.server_host import DeviceServerHost
from melt.runtimes.choice import runtime_for


def tool_path(
    tool: str,
    framework: str,
    options: FrameworkOptions,
    facts: DeviceFacts,
    local: bool,
    device: str,
) -> str:
    """The path of `tool` of the run's llama.cpp build: beside the llama-server the user
    named (`--server-binary`, the inventory's `llama_server:`, on this machine
    `$MELT_LLAMA_SERVER`), else the tool of the runtime melt built for the device's ABI
    (`melt runtimes build`; on this machine CI's too), a path on the controller or on the
    device where the inventory names one only there. `local`: the device is this machine."""
    named = (
        (options.server_binary if framework == "llama-server" else None)
        or facts.extra.get("llama_server")
        or (os.environ.get(BINARY_ENV) if local else None)
    )
    if named:
        return posixpath.join(posixpath.dirname(str(named)), tool)
    try:
        return runtime_for(device, facts.arch, "cpu", tool).binary(tool)
    except MeltError:
        if local and cached_binary().with_name(tool).is_file():
            return str(cached_binary().with_name(tool))
        raise


@dataclass(frozen=True, slots=True)
class PlacedTool:
    """A tool on the device: its path there and the sha256 of the binary (the identity of
    the build whose figures it gives)."""

    name: str
    path: str
    sha256: str


def place_tool(device: Device, tool: str, path: str) -> PlacedTool:
    """`path` on the device: used where it is on the controller's own device, pushed by
    content to a remote one (as llama-server is), or taken as a path on the device when it
    is no file here; one line naming the fix when it is nowhere."""
    local = Path(path)
    if local.is_file():
        placed = DeviceServerHost(device).put_binary(path)
        return PlacedTool(tool, placed.path, file_sha256(local))
    if device.on_controller or not device.exists(path):
        raise MeltError(
            f"no {tool} at {path} (beside the run's llama-server) for device "
            f"'{device.name}': build llama.cpp's tools there, or pass --server-binary with "
            f"a llama-server that has {tool} beside it"
        )
    return PlacedTool(tool, path, _device_sha256(device, path))


def _device_sha256(device: Device, path: str) -> str:
    result = device.run(["sh", "-c", f"sha256sum {shlex.quote(path)}"], timeout=120)
    digest = result.stdout.split()[0] if result.ok and result.stdout.split() else ""
    if len(digest) != 64:
        raise DeviceError(f"{device.name}: sha256sum {path} failed: {result.stderr.strip()}")
    return digest
