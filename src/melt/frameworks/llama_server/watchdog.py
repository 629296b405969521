"""A server on a device must not outlive the melt that started it.

llama-server is started under a small POSIX sh wrapper on the device. The wrapper starts the
server in the background, prints its pid as its first line of output, and keeps the
controller's end of its stdin: melt never writes there, so the stdin closes only when melt's
connection does (the SSH session drops, melt is killed, the local pipe's writer exits). Then
the wrapper stops the server (SIGTERM, SIGKILL after `GRACE_S`). A SIGTERM to the wrapper is
passed on the same way, and the wrapper exits with the server's status.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

PID_PREFIX = "melt-watchdog server-pid "
GRACE_S = 10

_SCRIPT = f"""
exec 3<&0 </dev/null
"$@" 3<&- &
pid=$!
echo "{PID_PREFIX}$pid"
end() {{ kill -TERM "$pid" 2>/dev/null; sleep {GRACE_S}; kill -KILL "$pid" 2>/dev/null; }}
trap '(end) >/dev/null 2>&1 &' TERM INT HUP
(while read -r _; do :; done <&3; end) >/dev/null 2>&1 &
watcher=$!
exec 3<&-
while :; do
  wait "$pid"; code=$?
  kill -0 "$pid" 2>/dev/null || break
done
kill "$watcher" 2>/dev/null
exit "$code"
"""


def guarded(argv: Sequence[str]) -> list[str]:
    """`argv` run under the watchdog (see the module docstring)."""
    return ["sh", "-c", _SCRIPT, "melt-watchdog", *argv]


def server_pid(lines: Iterator[str]) -> int | None:
    """The server's pid from the wrapper's line (the server may print before it); None
    when the output ends without one (the wrapper could not start)."""
    for line in lines:
        if line.startswith(PID_PREFIX):
            return int(line.removeprefix(PID_PREFIX))
    return None
