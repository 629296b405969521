"""The energy table says how its figures were integrated: an energy counter's rise over the
window (NVML's total-energy counter) is not a trapezoid over polled power."""

from __future__ import annotations

from melt.report.signals import energy_table

AGG = {"n": 1, "median": 1.0, "mean": 1.0}


def energy(integration: str) -> dict:
    keys = (
        "j_per_prompt_token",
        "j_per_generated_token",
        "prefill_avg_power_w",
        "decode_avg_power_w",
        "energy_pt_mwh_per_token",
    )
    head = {"source": "nvml board power", "provenance": "measured", "integration": integration}
    return head | {k: AGG for k in keys}


def test_the_title_names_the_counter_when_the_counter_gave_the_energy() -> None:
    assert "counter-delta" in str(energy_table(energy("counter-delta")).title)
    assert "trapezoid" not in str(energy_table(energy("counter-delta")).title)
    assert "trapezoid integration" in str(energy_table(energy("trapezoid")).title)
