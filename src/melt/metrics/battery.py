"""Battery cost of a conversation: % of a full charge and conversations per full charge.

From the charge drawn during each conversation (mAh, the integral of the discharge current)
and the battery's full charge (`charge_full` of the fuel gauge, or a configured capacity).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BatteryCost:
    charge_full_mah: float
    mean_discharge_mah_per_conversation: float
    percent_per_conversation: float
    conversations_per_charge: float | None

    def as_dict(self) -> dict[str, float | None]:
        return {
            "charge_full_mah": self.charge_full_mah,
            "mean_discharge_mah_per_conversation": self.mean_discharge_mah_per_conversation,
            "percent_per_conversation": self.percent_per_conversation,
            "conversations_per_charge": self.conversations_per_charge,
        }


def battery_cost(
    discharge_mah_per_conversation: Sequence[float], charge_full_mah: float
) -> BatteryCost | None:
    if not discharge_mah_per_conversation or charge_full_mah <= 0:
        return None
    mean = sum(discharge_mah_per_conversation) / len(discharge_mah_per_conversation)
    return BatteryCost(
        charge_full_mah=charge_full_mah,
        mean_discharge_mah_per_conversation=mean,
        percent_per_conversation=100.0 * mean / charge_full_mah,
        conversations_per_charge=charge_full_mah / mean if mean > 0 else None,
    )
