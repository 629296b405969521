"""Which runtime a device's run uses when the user named no binary: the newest one built for
the device's ABI and the run's backend (a board's own build first), or one line saying which
`melt runtimes build` command makes it."""

from __future__ import annotations

from pathlib import Path

from melt.errors import MeltError
from melt.runtimes.backends import backend as backend_named
from melt.runtimes.cache import Runtime, matching
from melt.runtimes.targets import target_for_abi


def runtime_for(
    device: str, abi: str | None, backend: str, tool: str, root: Path | None = None
) -> Runtime:
    """The runtime to run `tool` of on `device` (architecture `abi`, e.g. `arm64-v8a`)."""
    target = target_for_abi(abi)
    if target is None:
        raise MeltError(
            f"no {tool} for device '{device}': melt builds no runtime for its architecture "
            f"({abi or 'unknown'}); pass --server-binary PATH (a {tool} built for it)"
        )
    found = matching(target.name, backend, tool, device, root)
    if found is not None:
        return found
    if backend_named(backend).on_device_only:
        command = f"melt runtimes build --on {device} --backend {backend}"
    else:
        command = f"melt runtimes build --target {target.name} --backend {backend}"
    raise MeltError(
        f"no {tool} for device '{device}' ({abi}, backend {backend}): build one with "
        f"'{command}', or pass --server-binary PATH"
    )
