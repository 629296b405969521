"""Parsers for one line of /proc's multi-line files, added to the channel plan's `PARSERS`, so
every sampler (the phone's sh loop included) turns a `Channel.line` of /proc/stat or
/proc/meminfo into the same value (proc(5)).

- `kB`: a `Key:   1234 kB` line (/proc/meminfo, /proc/<pid>/status, smaps_rollup), in bytes.
- `jiffies_busy`, `jiffies_total`, `jiffies_steal`: one `cpu`/`cpuN` line of /proc/stat.

Standard library only: the runner melt ships to a device imports it.
"""

from __future__ import annotations

from functools import lru_cache

from melt.probes.channels import PARSERS
from melt.procfs import KIB


def _kib_bytes(line: str) -> int:
    """A `Key:   1234 kB` line (/proc/meminfo, /proc/<pid>/status, smaps_rollup) in bytes."""
    _, number, *unit = line.split()
    if unit != ["kB"]:
        raise ValueError(f"unit {' '.join(unit)!r}, not kB")
    return int(number) * KIB


# /proc/stat cpu-line columns after the name (proc(5)): user nice system idle iowait irq
# softirq steal guest guest_nice. guest and guest_nice are already counted in user and nice.
_COUNTED_COLUMNS = 8
_IDLE_COLUMNS = (3, 4)
_STEAL_COLUMN = 7


@lru_cache(maxsize=512)  # a tick reads busy and total (and steal) from each line
def stat_jiffies(line: str) -> tuple[int, int, int | None]:
    """(busy, total, steal) jiffies of one `cpu`/`cpuN` line of /proc/stat (steal None on a
    kernel that has no steal column)."""
    name, *fields = line.split()
    values = [int(v) for v in fields[:_COUNTED_COLUMNS]]
    if len(values) < 4:
        raise ValueError(f"'{name}' line has {len(values)} columns")
    total = sum(values)
    idle = sum(values[i] for i in _IDLE_COLUMNS if i < len(values))
    steal = values[_STEAL_COLUMN] if len(values) > _STEAL_COLUMN else None
    return total - idle, total, steal


def _busy(line: str) -> int:
    return stat_jiffies(line)[0]


def _total(line: str) -> int:
    return stat_jiffies(line)[1]


def _steal(line: str) -> int:
    steal = stat_jiffies(line)[2]
    if steal is None:
        raise ValueError("no steal column")
    return steal


KB_PARSER = "kB"
PARSERS.update(
    {KB_PARSER: _kib_bytes, "jiffies_busy": _busy, "jiffies_total": _total, "jiffies_steal": _steal}
)
