from __future__ import annotations

import sys

import pytest

from melt.probes import ProbeReadError, make_probe


def test_missing_pynvml_is_absent_with_the_install_hint(monkeypatch, tmp_path) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)
    availability = make_probe("nvml", tmp_path).available()
    assert not availability.ok
    assert "pip install 'melt-bench[nvidia]'" in availability.reason


def test_reading_before_initialisation_is_a_read_error(tmp_path) -> None:
    with pytest.raises(ProbeReadError, match="not initialised"):
        make_probe("nvml", tmp_path).read(0)
