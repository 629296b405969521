"""CPU utilisation per core from /proc/stat (proc(5)): busy share of jiffies between reads."""

from __future__ import annotations

from melt.devices.fspath import SysPath
from melt.probes.base import Availability, ProbeInfo, ProbePolicy, ProbeReadError, read_text
from melt.probes.registry import register_probe
from melt.traces.sample import Provenance, Sample

# /proc/stat columns after the name: user nice system idle iowait irq softirq steal guest
# guest_nice. guest and guest_nice are already counted in user and nice, so they are left out.
_COUNTED_COLUMNS = 8
_IDLE_COLUMNS = (3, 4)
_STEAL_COLUMN = 7
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
        name, *fields = line.split()
        if not name.startswith("cpu"):
            continue
        values = [int(v) for v in fields[:_COUNTED_COLUMNS]]
        if len(values) < 4:
            raise ValueError(f"'{name}' line has {len(values)} columns")
        total = sum(values)
        idle = sum(values[i] for i in _IDLE_COLUMNS if i < len(values))
        out[name] = (total - idle, total)
        if name == "cpu" and len(values) > _STEAL_COLUMN:
            out[STEAL] = (values[_STEAL_COLUMN], total)
    if not out:
        raise ValueError("no cpu lines")
    return out


@register_probe("cpu")
class CpuProbe:
    """Percent of time each core (and all cores: channel `cpu`) was not idle since the last
    read. The first read only sets the baseline and returns no samples."""

    name = "cpu"
    policy = ProbePolicy("utilisation")

    def __init__(self, root: SysPath) -> None:
        self.path = root / "proc" / "stat"
        self._last: dict[str, tuple[int, int]] | None = None

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
        except ValueError as exc:
            raise ProbeReadError(f"{self.path}: {exc}") from None

    def read(self, t_ns: int) -> list[Sample]:
        now = self._stat()
        last, self._last = self._last, now
        if last is None:
            return []
        samples = []
        for channel, (busy, total) in now.items():
            if channel not in last:
                continue
            d_busy, d_total = busy - last[channel][0], total - last[channel][1]
            if d_total <= 0:
                continue
            value = 100.0 * min(max(d_busy / d_total, 0.0), 1.0)
            samples.append(Sample(t_ns, self.name, channel, value, "%"))
        return samples
