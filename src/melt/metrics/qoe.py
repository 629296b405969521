"""Quality of experience: verdicts for a person chatting, each with the number behind it.

* Reading: decode rate against silent reading speed, 238 words/min by default (Brysbaert
  2019, English non-fiction), converted to tokens/s with the model's measured tokens per
  word on this workload (generated tokens / words of the output text).
* Responsiveness: TTFT against the 0.1 s / 1 s / 10 s response-time limits (Nielsen 1993:
  feels instantaneous / keeps the flow of thought / keeps attention).
* Battery: % of a full charge per conversation and conversations per charge, when the
  discharge was measured.
* Thermal: time above the comfort threshold, when a temperature was measured.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

DEFAULT_READING_WPM = 238.0
RESPONSE_LIMITS_S = (
    (0.1, "feels instantaneous"),
    (1.0, "keeps the flow of thought"),
    (10.0, "keeps the user's attention"),
)


@dataclass(frozen=True, slots=True)
class Verdict:
    """One QoE check: `ok` is None when it could not be judged; `value` is the number behind
    it in `unit`, `detail` says how it was obtained."""

    check: str
    ok: bool | None
    verdict: str
    value: float | None
    unit: str
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "ok": self.ok,
            "verdict": self.verdict,
            "value": self.value,
            "unit": self.unit,
            "detail": self.detail,
        }


def tokens_per_word(generated_tokens: Sequence[int], texts: Sequence[str | None]) -> float | None:
    """Generated tokens over whitespace-separated words of the output, over all turns."""
    words = sum(len(t.split()) for t in texts if t)
    tokens = sum(n for n, t in zip(generated_tokens, texts, strict=True) if t)
    return tokens / words if words else None


def reading_verdict(
    decode_tok_per_s: float | None, tok_per_word: float | None, wpm: float = DEFAULT_READING_WPM
) -> Verdict:
    if decode_tok_per_s is None or tok_per_word is None:
        return Verdict("reading", None, "unknown (no decode rate or no output text)", None, "", "")
    needed = wpm / 60.0 * tok_per_word
    ok = decode_tok_per_s >= needed
    return Verdict(
        "reading",
        ok,
        f"{'faster' if ok else 'slower'} than a person reads "
        f"({decode_tok_per_s / needed:.1f}× reading speed)",
        decode_tok_per_s,
        "tok/s",
        f"reading {wpm:g} words/min × {tok_per_word:.2f} tokens/word (measured on this "
        f"workload's output) = {needed:.1f} tok/s needed; decode median {decode_tok_per_s:.1f}",
    )


def ttft_verdict(ttft_s: Sequence[float]) -> Verdict:
    if not ttft_s:
        return Verdict("responsiveness", None, "unknown (no TTFT)", None, "s", "")
    ordered = sorted(ttft_s)
    median = (
        ordered[len(ordered) // 2]
        if len(ordered) % 2
        else sum(ordered[len(ordered) // 2 - 1 : len(ordered) // 2 + 1]) / 2
    )
    shares = [
        f"{100 * sum(t <= limit for t in ordered) / len(ordered):.0f}% ≤ {limit:g} s"
        for limit, _ in RESPONSE_LIMITS_S
    ]
    for limit, meaning in RESPONSE_LIMITS_S:
        if median <= limit:
            return Verdict(
                "responsiveness",
                limit <= 1.0,
                f"median TTFT under {limit:g} s: {meaning}",
                median,
                "s",
                ", ".join(shares),
            )
    return Verdict(
        "responsiveness",
        False,
        "median TTFT over 10 s: users leave",
        median,
        "s",
        ", ".join(shares),
    )


def battery_verdict(battery: Mapping[str, Any] | None) -> Verdict:
    if not battery:
        return Verdict("battery", None, "not measured (no battery discharge probe)", None, "%", "")
    pct = battery["percent_per_conversation"]
    per_charge = battery.get("conversations_per_charge")
    return Verdict(
        "battery",
        None,
        f"{pct:.3f}% of a charge per conversation"
        + (f", {per_charge:.0f} conversations per charge" if per_charge else ""),
        pct,
        "%",
        f"mean {battery['mean_discharge_mah_per_conversation']:.3f} mAh per conversation of "
        f"{battery['charge_full_mah']:.0f} mAh full charge",
    )


def thermal_verdict(thermal: Mapping[str, Mapping[str, float]]) -> Verdict:
    if not thermal:
        return Verdict("thermal", None, "not measured (no temperature probe)", None, "s", "")
    zone, worst = max(thermal.items(), key=lambda kv: kv[1]["time_above_s"])
    above = worst["time_above_s"]
    return Verdict(
        "thermal",
        above == 0,
        f"{above:.1f} s above {worst['threshold_c']:g} °C comfort ({zone})",
        above,
        "s",
        f"max {worst['max_c']:.1f} °C, rise {worst['rise_c']:.1f} °C in zone {zone}",
    )
