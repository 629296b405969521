from __future__ import annotations

import pytest

from melt.probes.cpu_power_model import CpuPowerModelProbe, PowerModel
from melt.traces.sample import Provenance

BEFORE = (
    "cpu  200 0 0 200 0 0 0 0 0 0\ncpu0 100 0 0 100 0 0 0 0 0 0\ncpu1 100 0 0 100 0 0 0 0 0 0\n"
)
# cpu0 busy 90 of 100 new jiffies, cpu1 busy 30 of 100
AFTER = "cpu  320 0 0 280 0 0 0 0 0 0\ncpu0 190 0 0 110 0 0 0 0 0 0\ncpu1 130 0 0 170 0 0 0 0 0 0\n"


def test_estimated_power_from_utilisation_is_labelled_estimated(tmp_path) -> None:
    (tmp_path / "proc").mkdir()
    stat = tmp_path / "proc/stat"
    stat.write_text(BEFORE)
    model = PowerModel(idle_w=5.0, active_w_per_core=4.0, source="test")
    probe = CpuPowerModelProbe(tmp_path, model)
    assert probe.read(0) == []
    stat.write_text(AFTER)
    (sample,) = probe.read(1)
    # 5 W + 4 W × (0.9 + 0.3) busy cores = 9.8 W
    assert sample.value == pytest.approx(9.8)
    assert sample.provenance is Provenance.ESTIMATED
    info = probe.info()
    assert info.provenance is Provenance.ESTIMATED and "model" in info.source
