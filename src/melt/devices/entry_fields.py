"""Fields every inventory entry shares, whatever its transport.

A name and a tag are what `--device` selects by (`NAME`, `tag:NAME`, `all`, comma-separated),
so neither may hold what that syntax reads differently; a number is strict, so YAML's `true`
is never taken for 1.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

ALL_DEVICES = "all"  # `--device all` selects every device: no device can be named so
_WORD = re.compile(r"[A-Za-z0-9_.-]+")
_WORD_RULE = "letters, digits, _ . - only"


def _device_name(value: str) -> str:
    if not _WORD.fullmatch(value):
        raise ValueError(f"'{value}' is not a device name: {_WORD_RULE}")
    if value == ALL_DEVICES:
        raise ValueError(
            f"'{ALL_DEVICES}' is reserved (--device {ALL_DEVICES} selects every device); "
            "rename the device"
        )
    return value


def _tag(value: str) -> str:
    if not _WORD.fullmatch(value):
        raise ValueError(
            f"'{value}' is not a tag: {_WORD_RULE} (a tag is selected with --device tag:NAME)"
        )
    return value


DeviceName = Annotated[str, AfterValidator(_device_name)]
Tag = Annotated[str, AfterValidator(_tag)]
Port = Annotated[int, Field(strict=True, gt=0, lt=65536)]  # a TCP port
BatteryMah = Annotated[float, Field(strict=True, gt=0)]  # a rated capacity, mAh
