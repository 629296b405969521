"""CPU utilisation per core from /proc/stat (proc(5)): busy share of jiffies between reads.

A channel plan (probes/channels.py): for each `cpu`/`cpuN` line, busy and total jiffies are
`Counter` inputs picked from the multi-line file, and the utilisation is Δbusy / Δtotal, so the
same plan runs in this process, in a board's runner and in a phone's sh loop.
"""

from __future__ import annotations

from melt.devices.fspath import SysPath
from melt.probes.base import Availability, ProbeInfo, ProbePolicy, ProbeReadError, read_text
from melt.probes.channels import Channel, Counter, PlannedProbe, ProbePlan
from melt.probes.procfs_lines import stat_jiffies
from melt.probes.registry import register_probe
from melt.traces.sample import Provenance

STEAL = "steal"


def is_core(channel: str) -> bool:
    """Whether a channel of this probe is one core (`cpuN`), not the aggregate or steal."""
    return channel.startswith("cpu") and channel[3:].isdigit()


def parse_stat(text: str) -> dict[str, tuple[int, int]]:
    """(busy, total) jiffies per `cpu` line: the aggregate `cpu` and each `cpuN`; and
    (steal, total) of the aggregate line as channel `steal` when the kernel reports steal
    (time a hypervisor ran another guest on this machine's vCPUs; counted as busy above)."""
    out: dict[str, tuple[int, int]] = {}
    for line in text.splitlines():
        name = line.split(maxsplit=1)[0] if line.strip() else ""
        if not name.startswith("cpu"):
            continue
        busy, total, steal = stat_jiffies(line)
        out[name] = (busy, total)
        if name == "cpu" and steal is not None:
            out[STEAL] = (steal, total)
    if not out:
        raise ValueError("no cpu lines")
    return out


def _jiffies(path: str, line: str, count: str) -> Channel:
    """The `count` (busy, total, steal) jiffies of one line of /proc/stat, a counter input."""
    return Channel(
        "cpu",
        f"{line}#{count}",
        path,
        "jiffies",
        parser=f"jiffies_{count}",
        emit=False,
        line=line,
        optional=is_core(line),  # a core taken offline leaves /proc/stat
    )


@register_probe("cpu")
class CpuProbe(PlannedProbe):
    """Percent of time each core (and all cores: channel `cpu`) was not idle since the last
    read. The first read only sets the baseline and returns no samples."""

    name = "cpu"
    policy = ProbePolicy("utilisation")

    def __init__(self, root: SysPath) -> None:
        self.root = root
        self.path = root / "proc" / "stat"

    def available(self) -> Availability:
        try:
            cores = sum(1 for name in self._stat() if is_core(name))
        except ProbeReadError as exc:
            return Availability.absent(str(exc))
        return Availability.found(f"{self.path}: {cores} cores")

    def info(self) -> ProbeInfo:
        return ProbeInfo(
            name=self.name,
            signal="cpu utilisation",
            unit="%",
            provenance=Provenance.MEASURED,
            source=str(self.path),
            resolution="1 jiffy (USER_HZ, usually 10 ms) per core",
            **self.policy.info_fields(),
        )

    def _stat(self) -> dict[str, tuple[int, int]]:
        text = read_text(self.path)
        try:
            return parse_stat(text)
        except (ValueError, IndexError) as exc:
            raise ProbeReadError(f"{self.path}: {exc}") from None

    def _plan(self) -> ProbePlan:
        path = str(self.path)
        names = list(self._stat())
        lines = [name for name in names if name != STEAL]
        inputs = [_jiffies(path, line, count) for line in lines for count in ("busy", "total")]
        if STEAL in names:
            inputs.append(_jiffies(path, "cpu", "steal"))
        rates = [
            Counter(
                self.name,
                name,
                "%",
                "cpu#steal" if name == STEAL else f"{name}#busy",
                per=f"{'cpu' if name == STEAL else name}#total",
                factor=100.0,
            )
            for name in names
        ]
        return ProbePlan((*inputs, *rates))
