"""Energy by trapezoid integration of a power series over exact windows.

The value at a window edge that falls between two samples is linearly interpolated, so a
window's energy does not depend on where the sampler's ticks happened to fall. Outside the
series the first/last value is held for at most `max_hold_s` (a sampler started just before
a run, or RAPL power stamped at the middle of its interval); a window reaching further than
that has no energy (None) rather than an invented one.

Per turn: prefill window = prompt handed over (or submit) → prefill done (or first token);
decode window = first token → last token, which produces generated − 1 tokens (the first
token comes out of prefill), matching the decode tok/s definition; turn window = submit →
end. J per prompt token = prefill J / prompt tokens evaluated; J per generated token =
decode J / (generated − 1). The idle baseline is the average power over an idle window
before the run; net energy = raw − baseline W × window seconds.

Where the power sensor also keeps a cumulative energy counter (NVML's
`nvmlDeviceGetTotalEnergyConsumption`), a window's energy is the counter's rise over it
(`counter_delta`, linear between reads): the sensor integrated every watt, where a polled
power series sees only its sample instants. The figure says so (`EnergyMode.COUNTER`).

MELT-compatible figures (for comparison with MELT's tables, computed here with the same
trapezoid integration, not MELT's rectangle rule): `energy_pt` = turn-window energy in mWh /
output tokens, `discharge_pt` = turn-window battery charge in mAh / output tokens.

This is melt's one integration: measured runs and imported captures alike. MELT's own
rectangle rule exists once, as `metrics.melt_compat.melt_compat_energy`, for reproducing
MELT's published figures; both return a `WindowEnergy` that says which rule made it.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from melt.metrics.timeline import NS_PER_S, Point, trapezoid_area, value_at

J_PER_MWH = 3.6
COULOMB_PER_MAH = 3.6
DEFAULT_MAX_HOLD_S = 0.5


def covers(points: Sequence[Point], start_ns: int, end_ns: int, max_hold_s: float) -> bool:
    """Whether the series speaks for [start_ns, end_ns]: it has points and reaches each edge
    within `max_hold_s` (a value is held no longer than that)."""
    if end_ns < start_ns:
        raise ValueError(f"window ends before it starts ({start_ns} > {end_ns})")
    hold_ns = max_hold_s * NS_PER_S
    return bool(points) and not (
        points[0][0] - start_ns > hold_ns or end_ns - points[-1][0] > hold_ns
    )


def integrate(
    points: Sequence[Point],
    start_ns: int,
    end_ns: int,
    max_hold_s: float = DEFAULT_MAX_HOLD_S,
) -> float | None:
    """∫ value dt over [start_ns, end_ns] in value·seconds (W → J, A → C), trapezoid rule."""
    if not covers(points, start_ns, end_ns, max_hold_s):
        return None
    if end_ns == start_ns:
        return 0.0
    times = [t for t, _ in points]
    inner = points[bisect_right(times, start_ns) : bisect_left(times, end_ns)]
    knots = [(start_ns, value_at(points, start_ns)), *inner, (end_ns, value_at(points, end_ns))]
    return trapezoid_area(knots) / NS_PER_S


def counter_delta(
    points: Sequence[Point],
    start_ns: int,
    end_ns: int,
    max_hold_s: float = DEFAULT_MAX_HOLD_S,
) -> float | None:
    """The rise of a cumulative counter (J) over [start_ns, end_ns], its value linearly
    interpolated at each edge; None past the series by more than the hold, as `integrate`."""
    if not covers(points, start_ns, end_ns, max_hold_s):
        return None
    return value_at(points, end_ns) - value_at(points, start_ns)


def average(points: Sequence[Point], start_ns: int, end_ns: int) -> float | None:
    """Time-weighted average over a window (e.g. idle baseline power in W)."""
    if end_ns <= start_ns:
        return None
    area = integrate(points, start_ns, end_ns)
    return None if area is None else area / ((end_ns - start_ns) / NS_PER_S)


class EnergyMode(StrEnum):
    """Which integration produced an energy figure (stored with every figure)."""

    TRAPEZOID = "trapezoid"
    MELT_COMPAT = "melt-compat"
    COUNTER = "counter-delta"


@dataclass(frozen=True, slots=True)
class WindowEnergy:
    """Energy of one window in J, raw and with the idle baseline subtracted; the charge in C
    when a current was integrated too; how many samples fell in the window, and the
    integration (`mode`) that produced it."""

    duration_s: float
    energy_j: float
    avg_power_w: float | None
    baseline_w: float | None = None
    net_energy_j: float | None = None
    charge_c: float | None = None
    samples: int = 0
    mode: EnergyMode = EnergyMode.TRAPEZOID

    @property
    def energy_mwh(self) -> float:
        return self.energy_j / J_PER_MWH

    @property
    def charge_mah(self) -> float | None:
        return None if self.charge_c is None else self.charge_c / COULOMB_PER_MAH

    def as_dict(self) -> dict[str, float | None]:
        return {
            "duration_s": self.duration_s,
            "energy_j": self.energy_j,
            "avg_power_w": self.avg_power_w,
            "baseline_w": self.baseline_w,
            "net_energy_j": self.net_energy_j,
        }


def window_energy(
    power_w: Sequence[Point],
    start_ns: int,
    end_ns: int,
    baseline_w: float | None = None,
    current_a: Sequence[Point] | None = None,
    counter_j: Sequence[Point] | None = None,
) -> WindowEnergy | None:
    """Energy of [start_ns, end_ns] (and charge, when `current_a` is given); None when the
    window reaches past the power series by more than the hold. With `counter_j` (the
    sensor's cumulative energy counter, J) the energy is the counter's rise; integrating the
    power is the fallback where the counter does not cover the window."""
    counted = counter_delta(counter_j, start_ns, end_ns) if counter_j else None
    energy = counted if counted is not None else integrate(power_w, start_ns, end_ns)
    if energy is None:
        return None
    series = counter_j if counted is not None and counter_j else power_w
    duration = (end_ns - start_ns) / NS_PER_S
    return WindowEnergy(
        duration_s=duration,
        energy_j=energy,
        avg_power_w=energy / duration if duration > 0 else None,
        baseline_w=baseline_w,
        net_energy_j=None if baseline_w is None else energy - baseline_w * duration,
        charge_c=integrate(current_a, start_ns, end_ns) if current_a else None,
        samples=sum(1 for t, _ in series if start_ns <= t <= end_ns),
        mode=EnergyMode.TRAPEZOID if counted is None else EnergyMode.COUNTER,
    )


@dataclass(frozen=True, slots=True)
class TurnWindows:
    """The instants that bound a turn's phases, on the device's monotonic clock."""

    submit_ns: int
    prefill_start_ns: int | None
    prefill_done_ns: int | None
    first_token_ns: int | None
    last_token_ns: int | None
    end_ns: int
    prompt_tokens_evaluated: int | None
    generated_tokens: int


@dataclass(frozen=True, slots=True)
class TurnEnergy:
    turn: WindowEnergy
    prefill: WindowEnergy | None
    decode: WindowEnergy | None
    j_per_prompt_token: float | None
    j_per_generated_token: float | None
    energy_pt_mwh_per_token: float | None
    discharge_pt_mah_per_token: float | None
    discharge_mah: float | None

    def as_dict(self) -> dict[str, object]:
        return {
            "turn": self.turn.as_dict(),
            "prefill": None if self.prefill is None else self.prefill.as_dict(),
            "decode": None if self.decode is None else self.decode.as_dict(),
            "j_per_prompt_token": self.j_per_prompt_token,
            "j_per_generated_token": self.j_per_generated_token,
            "energy_pt_mwh_per_token": self.energy_pt_mwh_per_token,
            "discharge_pt_mah_per_token": self.discharge_pt_mah_per_token,
            "discharge_mah": self.discharge_mah,
        }


def _net_or_raw(window: WindowEnergy) -> float:
    return window.net_energy_j if window.net_energy_j is not None else window.energy_j


def turn_energy(
    power_w: Sequence[Point],
    w: TurnWindows,
    baseline_w: float | None = None,
    current_a: Sequence[Point] | None = None,
    counter_j: Sequence[Point] | None = None,
) -> TurnEnergy | None:
    """Energy of one turn and its phases; per-token figures use baseline-subtracted energy
    when a baseline is given. `current_a` (battery discharge current) gives discharge_pt;
    `counter_j` (a cumulative energy counter) gives each window's energy, see
    `window_energy`."""
    turn = window_energy(power_w, w.submit_ns, w.end_ns, baseline_w, counter_j=counter_j)
    if turn is None:
        return None
    prefill_start = w.prefill_start_ns if w.prefill_start_ns is not None else w.submit_ns
    prefill_end = w.prefill_done_ns if w.prefill_done_ns is not None else w.first_token_ns
    prefill = (
        window_energy(power_w, prefill_start, prefill_end, baseline_w, counter_j=counter_j)
        if prefill_end is not None and prefill_end > prefill_start
        else None
    )
    decode = (
        window_energy(power_w, w.first_token_ns, w.last_token_ns, baseline_w, counter_j=counter_j)
        if w.first_token_ns is not None and w.last_token_ns is not None and w.generated_tokens > 1
        else None
    )
    discharge_mah = None
    if current_a:
        coulombs = integrate(current_a, w.submit_ns, w.end_ns)
        discharge_mah = None if coulombs is None else coulombs / COULOMB_PER_MAH
    out = w.generated_tokens
    return TurnEnergy(
        turn=turn,
        prefill=prefill,
        decode=decode,
        j_per_prompt_token=_net_or_raw(prefill) / w.prompt_tokens_evaluated
        if prefill is not None and w.prompt_tokens_evaluated
        else None,
        j_per_generated_token=_net_or_raw(decode) / (out - 1) if decode is not None else None,
        energy_pt_mwh_per_token=turn.energy_j / J_PER_MWH / out if out else None,
        discharge_pt_mah_per_token=discharge_mah / out
        if discharge_mah is not None and out
        else None,
        discharge_mah=discharge_mah,
    )
