"""What the user chose for the probes of a bench (rate, cooldown, idle baseline, power
model, Monsoon), and the parsing of the durations given on the command line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from melt.config.device_profile import DeviceProfile
from melt.errors import MeltError
from melt.metrics.thermal import DEFAULT_COMFORT_C
from melt.probes.cpu_power_model import PowerModel
from melt.probes.monsoon import MonsoonSettings
from melt.probes.sampler import DEFAULT_RATE_HZ
from melt.values import finite

DEFAULT_COOLDOWN_TOLERANCE_C = 2.0
DEFAULT_COOLDOWN_TIMEOUT_S = 300.0
POWER_MODELS = ("estimated",)


def parse_cooldown(text: str) -> float | str | None:
    """`off` → None, `auto` → "auto", or seconds (`30`, `30s`, `2m`)."""
    if text in ("off", "auto"):
        return None if text == "off" else "auto"
    try:
        seconds = parse_duration_s(text)
    except MeltError:
        raise MeltError(
            f"--cooldown: expected off, auto or a duration like 30s or 2m (got '{text}')"
        ) from None
    return seconds


def parse_duration_s(text: str) -> float:
    """Seconds from `90`, `90s`, `10m` or `1h`."""
    units = {"s": 1.0, "m": 60.0, "h": 3600.0}
    body, scale = text.strip(), 1.0
    if body and body[-1] in units:
        body, scale = body[:-1], units[body[-1]]
    try:
        value = float(body) * scale
    except ValueError:
        raise MeltError(f"expected a duration like 90s, 10m or 1h (got '{text}')") from None
    if value < 0:
        raise MeltError(f"a duration cannot be negative (got '{text}')")
    return value


@dataclass(frozen=True, slots=True)
class ProbeSettings:
    rate_hz: float = DEFAULT_RATE_HZ
    idle_baseline_s: float | None = None
    cooldown: float | str | None = None
    cooldown_tolerance_c: float = DEFAULT_COOLDOWN_TOLERANCE_C
    cooldown_timeout_s: float = DEFAULT_COOLDOWN_TIMEOUT_S
    power_model: str | None = None
    profile: DeviceProfile | None = None
    comfort_c: float = DEFAULT_COMFORT_C
    root: Path = Path("/")
    over_time_buckets: int = 0
    monsoon: MonsoonSettings | None = None

    def __post_init__(self) -> None:
        finite(self.comfort_c, "--comfort-temp")  # °C: a NaN would pass every comparison

    def configured_probes(self) -> dict[str, Configured]:
        """The registered probes these settings configure, by name, with their configuration
        (a configured probe that cannot run is the user's error, named by its flag)."""
        out: dict[str, Configured] = {}
        if self.monsoon is not None:
            out["monsoon"] = Configured(self.monsoon, "--monsoon-vout")
        if self.power_model is not None:
            out["cpu_power_model"] = Configured(_power_model(self), "--power-model")
        return out


@dataclass(frozen=True, slots=True)
class Configured:
    """A probe the user configured: its configuration and the flag that asked for it (an
    unavailable configured probe is the user's error, named by that flag)."""

    config: Any
    flag: str


def _power_model(settings: ProbeSettings) -> PowerModel:
    """The estimated CPU power model's parameters, from the device profile."""
    if settings.power_model not in POWER_MODELS:
        raise MeltError(
            f"--power-model: unknown model '{settings.power_model}' "
            f"(known: {', '.join(POWER_MODELS)})"
        )
    profile = settings.profile
    if profile is None or profile.power_model is None:
        raise MeltError(
            "--power-model estimated needs power_model.idle_w and "
            "power_model.active_w_per_core; pass --device-profile FILE.yaml that sets them"
        )
    model = profile.power_model
    return PowerModel(model.idle_w, model.active_w_per_core, model.source)
