"""The channel plan on its own: files once, derived channels after their inputs, unreadable
files left out on a phone tick and an error in this process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from melt.probes.base import ProbeReadError
from melt.probes.channels import Channel, Derived, ProbePlan
from melt.probes.ina3221 import Ina3221Probe

PLAN = ProbePlan(
    (
        Channel("rail", "volts", "/v", "V", scale=1000.0, emit=False),
        Channel("rail", "amps", "/a", "A", scale=1000.0, emit=False),
        Derived("rail", "power", "W", "product", ("volts", "amps")),
        Channel("rail", "volts_again", "/v", "V", scale=1000.0),
    )
)


def test_each_file_is_read_once_and_only_emitted_channels_are_samples() -> None:
    assert PLAN.files() == ["/v", "/a"]
    assert PLAN.channels() == [("rail", "power", "W"), ("rail", "volts_again", "V")]
    samples = PLAN.samples(7, {"/v": "5000\n", "/a": "2000"})
    assert [(s.channel, s.value, s.t_ns) for s in samples] == [
        ("power", 10.0, 7),
        ("volts_again", 5.0, 7),
    ]


def test_an_unreadable_file_drops_its_channel_and_what_derives_from_it() -> None:
    samples = PLAN.samples(1, {"/v": "5000", "/a": None})
    assert [s.channel for s in samples] == ["volts_again"]


def test_a_value_that_does_not_parse_names_its_file() -> None:
    with pytest.raises(ProbeReadError, match="/a holds 'n/a', not int"):
        PLAN.samples(1, {"/v": "5000", "/a": "n/a"})


def test_in_this_process_a_file_gone_since_discovery_is_a_read_error(
    sysfs: Callable[[str], Path],
) -> None:
    probe = Ina3221Probe(sysfs("jetson_orin_nano"))
    assert probe.available().ok
    assert [c for _, c, _ in probe.plan().channels()][-1] == "power"
    assert probe.read(1)
    Path(probe.plan().files()[0]).unlink()
    with pytest.raises(ProbeReadError, match="cannot read"):
        probe.read(2)
