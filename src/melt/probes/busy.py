"""Parsers for the busy figures GPU drivers print, added to the channel plan's `PARSERS` (so
every sampler, the phone's included, turns the file's first line into a percentage the same
way). Each returns % busy over the driver's last window; a window with no time is 0 % busy.

- `percent`: `42 %` (kgsl `gpu_busy_percentage`: `"%d %%\\n"`).
- `busy_total`: `   1234    5678` (kgsl `gpubusy`: busy and total time of the last window,
  `"%7d %7d\\n"`).
- `busy_idle`: `busy_time: 1234 idle_time: 5678` (Arm Mali kbase debugfs `dvfs_utilization`,
  `mali_kbase_dvfs_debugfs.c`; CSF GPUs append `protm_time: N`, counted as busy).

Standard library only: the runner melt ships to a device imports it.
"""

from __future__ import annotations

from melt.probes.channels import PARSERS


def _ratio(busy: int, total: int) -> float:
    return 100.0 * busy / total if total > 0 else 0.0


def percent(text: str) -> float:
    return float(text.removesuffix("%").strip())


def busy_total(text: str) -> float:
    busy, total = (int(f) for f in text.split())
    return _ratio(busy, total)


def busy_idle(text: str) -> float:
    fields = text.split()
    values = dict(zip(fields[::2], fields[1::2], strict=True))
    try:
        busy = int(values["busy_time:"]) + int(values.get("protm_time:", "0"))
        idle = int(values["idle_time:"])
    except KeyError as missing:
        raise ValueError(f"no {missing.args[0]!r}") from None
    return _ratio(busy, busy + idle)


PARSERS.update({"percent": percent, "busy_total": busy_total, "busy_idle": busy_idle})
