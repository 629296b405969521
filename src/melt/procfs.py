"""Text of /proc files, parsed: pure functions that any reader of /proc uses (a device's file
view, melt's runner on a device, the in-process engine reading its own process)."""

from __future__ import annotations

KIB = 1024


def status_kib(text: str, key: str) -> int | None:
    """A `Key:   1234 kB` line of /proc/<pid>/status in KiB."""
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name == key:
            number = value.split()
            return int(number[0]) if number else None
    return None


def stat_cpu_ticks(text: str, children: bool = False) -> int:
    """utime + stime (fields 14 and 15) of /proc/<pid>/stat, in clock ticks; with `children`,
    plus cutime + cstime (16 and 17: the children it has waited for). The command name
    (field 2) may hold spaces and parentheses, so fields are counted after its last ')'."""
    rest = text[text.rindex(")") + 2 :].split()
    fields = rest[11:15] if children else rest[11:13]
    return sum(int(f) for f in fields)
