"""Which compute devices a llama-server build has on its device (`--list-devices`), and
where a started server put the model (its load report, from the log file it writes).

`--list-devices` prints every non-CPU device of ggml's registry as
`  Vulkan0: llvmpipe (LLVM 15.0.6, 256 bits) (2048 MiB, 2048 MiB free)`, or `(none)` for a
CPU-only build or a build that sees no device. It does not say whether a device is a
discrete GPU, an integrated one or another accelerator: melt records these as `gpu`.
"""

from __future__ import annotations

import logging
import re

from melt.compute import CPU, ComputeDevice, ComputeUse
from melt.frameworks.llama_server.host import ServerHost
from melt.frameworks.llamacpp.load_log import api_of, compute_use

log = logging.getLogger(__name__)

LIST_TIMEOUT_S = 60.0
MIB = 1024 * 1024
_LISTED = re.compile(r"^\s+(\S+): (.*) \((\d+) MiB, (\d+) MiB free\)\s*$")


def parse_device_list(text: str) -> tuple[ComputeDevice, ...]:
    """The devices of `llama-server --list-devices` output, after the CPU (always there)."""
    listed = []
    for line in text.splitlines():
        match = _LISTED.match(line)
        if match:
            name, description, total, free = match.groups()
            listed.append(
                ComputeDevice(
                    kind="gpu",
                    api=api_of(name),
                    name=name,
                    description=description,
                    memory_total_bytes=int(total) * MIB,
                    memory_free_bytes=int(free) * MIB,
                )
            )
    return (CPU, *listed)


def list_devices(host: ServerHost, binary: str) -> tuple[ComputeDevice, ...]:
    """What the build can use on the device; the CPU alone when it cannot list any."""
    code, output = host.run([binary, "--list-devices"], timeout=LIST_TIMEOUT_S)
    if code != 0:
        log.warning("%s --list-devices exited with code %d on %s", binary, code, host.name)
    return parse_device_list(output)


def load_report(
    host: ServerHost, log_file: str, available: tuple[ComputeDevice, ...]
) -> ComputeUse:
    """The started server's `ComputeUse` from the load report in its log file, which is
    then removed (the server keeps writing to its open file; nothing accumulates)."""
    code, text = host.run(["cat", log_file], timeout=LIST_TIMEOUT_S)
    host.run(["rm", "-f", log_file], timeout=LIST_TIMEOUT_S)
    lines = text.splitlines() if code == 0 else []
    return compute_use(
        lines, available, "llama-server's load log (--log-verbosity 4) and --list-devices"
    )
