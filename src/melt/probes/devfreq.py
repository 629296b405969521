"""Device frequency scaling (devfreq, Documentation/ABI/testing/sysfs-class-devfreq): each
/sys/class/devfreq/<device> has `cur_freq` (Hz), `min_freq`/`max_freq` (Hz), `governor` and
`available_frequencies`. GPUs, NPUs, DSPs, memory controllers and video blocks scale here.

`DevfreqNode` is how the accelerator probes (jetson_gpu, kgsl, mali) read their GPU's clock;
the `devfreq` probe records every other node, whatever a vendor kernel exposes (an NPU's, a
DSP's, the memory bus's), and leaves out the nodes an accelerator probe reads already: a probe
class claims a node with a `claims_devfreq(node) -> bool` class method.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from melt.devices.fspath import SysPath
from melt.probes.base import (
    Availability,
    ProbeInfo,
    ProbePolicy,
    ProbeReadError,
    read_int,
)
from melt.probes.channels import Channel, PlannedProbe, ProbePlan
from melt.probes.registry import register_probe, registered
from melt.probes.sources import fact
from melt.traces.sample import Provenance

HZ_PER_MHZ = 1e6
# <node>/device/<entry>: what the accelerator probes' claims look at first (not deeper: with
# symlinks followed, <node>/device/subsystem/... reaches every device of the bus)
DEVFREQ_TREE = ("sys/class/devfreq", 3)


def devfreq_class(root: SysPath) -> SysPath:
    return root / "sys" / "class" / "devfreq"


@dataclass(frozen=True, slots=True)
class DevfreqNode:
    """One devfreq device: `path` is /sys/class/devfreq/<name> (on a real device a symlink
    to the device's own devfreq folder)."""

    name: str
    path: SysPath

    @property
    def cur_freq(self) -> SysPath:
        return self.path / "cur_freq"

    def channel(self, probe: str, channel: str) -> Channel:
        """The node's current frequency, Hz → MHz."""
        return Channel(probe, channel, str(self.cur_freq), "MHz", scale=HZ_PER_MHZ)

    def facts(self) -> dict[str, Any]:
        """Governor and limits (MHz), as the kernel reports them when the probe is made."""

        def mhz(file: str) -> float | None:
            text = fact(self.path / file)
            return int(text) / HZ_PER_MHZ if text and text.isdigit() else None

        return {
            "devfreq": self.name,
            "governor": fact(self.path / "governor"),
            "min_freq_mhz": mhz("min_freq"),
            "max_freq_mhz": mhz("max_freq"),
        }


def devfreq_nodes(root: SysPath) -> list[DevfreqNode]:
    """The devfreq devices under `root` whose `cur_freq` is readable, by name."""
    base = devfreq_class(root)
    if not base.is_dir():
        return []
    nodes = []
    for entry in sorted(base.iterdir(), key=lambda p: p.name):
        node = DevfreqNode(entry.name, entry)
        try:
            read_int(node.cur_freq)
        except ProbeReadError:
            continue
        nodes.append(node)
    return nodes


def _claimed_by(node: DevfreqNode) -> str | None:
    """The registered probe that reads this node itself, if one does."""
    for name, factory in registered().items():
        claims: Callable[[DevfreqNode], bool] | None = getattr(factory, "claims_devfreq", None)
        if claims is not None and claims(node):
            return name
    return None


@register_probe("devfreq")
class DevfreqProbe(PlannedProbe):
    """Current frequency (MHz) of each devfreq device no accelerator probe reads; the
    channel is the device's name (e.g. `15340000.vic`, `soc:qcom,cpu-llcc-ddr-bw`)."""

    name = "devfreq"
    policy = ProbePolicy("frequency")
    trees = (DEVFREQ_TREE,)

    def __init__(self, root: SysPath) -> None:
        self.root = root
        self.base = devfreq_class(root)
        self._nodes: list[DevfreqNode] | None = None
        self.claimed: dict[str, str] = {}

    def nodes(self) -> list[DevfreqNode]:
        if self._nodes is None:
            nodes = []
            for node in devfreq_nodes(self.root):
                owner = _claimed_by(node)
                if owner is None:
                    nodes.append(node)
                else:
                    self.claimed[node.name] = owner
            self._nodes = nodes
        return self._nodes

    def available(self) -> Availability:
        nodes = self.nodes()
        if nodes:
            return Availability.found(f"{len(nodes)} devfreq devices under {self.base}")
        if self.claimed:
            owners = ", ".join(f"{n} (read by {p})" for n, p in self.claimed.items())
            return Availability.absent(
                f"every devfreq device under {self.base} is an accelerator's: {owners}"
            )
        return Availability.absent(f"no devfreq device with a readable cur_freq under {self.base}")

    def info(self) -> ProbeInfo:
        return ProbeInfo(
            name=self.name,
            signal="device frequency",
            unit="MHz",
            provenance=Provenance.MEASURED,
            source=f"{self.base}/<device>/cur_freq (Hz)",
            resolution="1 Hz as reported (the device's operating points are coarser)",
            facts={n.name: n.facts() for n in self.nodes()}
            | ({"claimed": dict(self.claimed)} if self.claimed else {}),
            **self.policy.info_fields(),
        )

    def _plan(self) -> ProbePlan:
        return ProbePlan(tuple(n.channel(self.name, n.name) for n in self.nodes()))
