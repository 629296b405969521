"""Numbers and ids the user types, checked in one place.

Every command's numeric options and its run and experiment references go through these, so
`nan`, `inf`, a negative duration or an id no store can hold is one line naming the option and
what it accepts (a `MeltError`: exit status 2), never a traceback, and never a value stored as
if it had been measured. Typer parses `nan` and `inf` as floats and integers of any size, so
a command calls these on what it parsed.
"""

from __future__ import annotations

import math

from melt.errors import MeltError

# The largest integer SQLite's INTEGER and PostgreSQL's BIGINT hold: no run or experiment id,
# count or seed past it can be stored or looked up.
MAX_INT64 = 2**63 - 1
_MAX_DIGITS = len(str(MAX_INT64))


def finite(
    value: float, flag: str, *, above: float | None = None, at_least: float | None = None
) -> float:
    """`value` if it is a finite number (and > `above`, ≥ `at_least` where given)."""
    bound = (
        f" > {above:g}" if above is not None else f" ≥ {at_least:g}" if at_least is not None else ""
    )
    low_ok = (above is None or value > above) and (at_least is None or value >= at_least)
    if not math.isfinite(value) or not low_ok:
        raise MeltError(f"{flag} must be a finite number{bound} (got {value:g})")
    return value


def positive_duration(seconds: float, flag: str) -> float:
    """A length of time in seconds: finite and > 0."""
    if not math.isfinite(seconds) or seconds <= 0:
        raise MeltError(f"{flag} must be a positive number of seconds (got {seconds:g}), e.g. 2")
    return seconds


def integer(value: int, flag: str, *, at_least: int = 1) -> int:
    """`value` if at_least ≤ value ≤ MAX_INT64 (what a store can hold)."""
    if value < at_least:
        raise MeltError(f"{flag} must be at least {at_least} (got {value})")
    if value > MAX_INT64:
        raise MeltError(f"{flag} must be at most {MAX_INT64}, what a store holds (got {value})")
    return value


def store_id(value: str | int, what: str) -> int:
    """A run or experiment id (`what` names where it was given, e.g. ``--experiment``) as a
    store holds ids: a whole number from 0 to MAX_INT64."""
    text = str(value).strip()
    digits = text.lstrip("0") or "0"  # no int() of thousands of digits (Python refuses those)
    if (
        not (text.isascii() and text.isdigit())
        or len(digits) > _MAX_DIGITS
        or int(digits) > MAX_INT64
    ):
        raise MeltError(
            f"{what} '{value}' cannot be a stored id (a whole number from 0 to {MAX_INT64}); "
            "see 'melt runs list'"
        )
    return int(digits)
