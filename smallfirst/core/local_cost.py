"""What an answer from this host's own hardware costs: amortised hardware plus energy, per second of work.

A local endpoint has no API bill, but its machine was bought and draws power. For one attempt:

* **seconds** of the machine's work: the attempt's measured duration, or — when the endpoint's speed is
  configured — ``prompt tokens ÷ prefill tokens/s + completion tokens ÷ decode tokens/s``; divided by
  ``parallel`` (requests the runtime serves at once share the machine);
* **hardware**: ``hardware_usd ÷ (lifetime_years × 8,766 h × 3,600 s × utilisation)`` per second —
  the price spread over the seconds the machine will be busy in its life (``utilisation`` is that share;
  at 1.0 it is the least the hardware can cost per second);
* **energy**: ``watts × seconds ÷ 3.6e6 × usd_per_kwh`` (power under load; idle power is not counted).

Pure values and functions; :mod:`smallfirst.pipeline.local_cost` builds a :class:`LocalRate` per endpoint
once, at start-up, so pricing an attempt is a few multiplications.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from smallfirst.core.types import Usage

HOURS_PER_YEAR = 8766.0  # 365.25 days
SECONDS_PER_KWH_PER_WATT = 3.6e6  # 1 kWh = 1,000 W × 3,600 s

# Defaults: the same assumptions `smallfirst plan` makes (smallfirst/sizing/plan.py, cost.py) when no figure
# is known; a catalog hardware profile (``profile``) supplies its cited price and power instead.
DEFAULT_USD_PER_KWH = 0.30  # plan's DEFAULT_TARIFF_USD_PER_KWH: an assumption (set usd_per_kwh)
DEFAULT_WATTS = 100.0  # plan's DEFAULT_POWER_W for machines without a cited figure (set watts)
DEFAULT_LIFETIME_YEARS = 2.0  # plan's default amortisation horizon, 24 months (plan --horizon-months)
DEFAULT_UTILISATION = 1.0  # busy all its life: the lower bound of the hardware's cost per second
DEFAULT_HARDWARE_USD = 0.0  # unknown or already paid for: only energy is counted (set hardware_usd or profile)


def hardware_usd_per_s(hardware_usd: float, lifetime_years: float, utilisation: float) -> float:
    """The hardware's price spread over the busy seconds of its life."""
    return hardware_usd / (lifetime_years * HOURS_PER_YEAR * 3600.0 * utilisation)


def energy_usd_per_s(watts: float, usd_per_kwh: float) -> float:
    """Electricity for one second at ``watts``."""
    return watts * usd_per_kwh / SECONDS_PER_KWH_PER_WATT


def seconds_of(usage: Usage, latency_ms: float, decode_tps: float | None, prefill_tps: float | None) -> float:
    """Seconds of work for one attempt: from tokens at the configured speed, else its measured duration."""
    if decode_tps is None:
        return max(latency_ms, 0.0) / 1000.0
    prefill = usage.prompt_tokens / prefill_tps if prefill_tps else 0.0
    return prefill + usage.completion_tokens / decode_tps


@dataclass(frozen=True, slots=True)
class LocalRate:
    """One endpoint's local cost model, resolved from config (and a catalog profile) once."""

    hardware_usd: float
    lifetime_years: float
    utilisation: float
    watts: float
    usd_per_kwh: float
    decode_tps: float | None = None  # None: seconds are the attempt's measured duration
    prefill_tps: float | None = None
    parallel: int = 1
    sources: tuple[tuple[str, str], ...] = ()  # (figure, where it came from), for the dashboard and report
    # hardware + energy per second of work, per request slot (set in __post_init__)
    usd_per_s: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        per_s = (hardware_usd_per_s(self.hardware_usd, self.lifetime_years, self.utilisation)
                 + energy_usd_per_s(self.watts, self.usd_per_kwh)) / self.parallel
        object.__setattr__(self, "usd_per_s", per_s)

    def cost(self, usage: Usage, latency_ms: float) -> float:
        """USD of one attempt: its seconds of work × the rate per second."""
        return seconds_of(usage, latency_ms, self.decode_tps, self.prefill_tps) * self.usd_per_s

    def usd_per_mtok_output(self) -> float | None:
        """Per million generated tokens at the configured decode speed (None: speed not configured)."""
        return None if self.decode_tps is None else self.usd_per_s / self.decode_tps * 1e6

    def as_dict(self) -> dict[str, Any]:
        per_mtok = self.usd_per_mtok_output()
        return {
            "hardware_usd": self.hardware_usd, "lifetime_years": self.lifetime_years,
            "utilisation": self.utilisation, "watts": self.watts, "usd_per_kwh": self.usd_per_kwh,
            "decode_tokens_per_s": self.decode_tps, "prefill_tokens_per_s": self.prefill_tps,
            "parallel": self.parallel, "usd_per_hour": round(self.usd_per_s * 3600.0, 6),
            "usd_per_mtok_output": None if per_mtok is None else round(per_mtok, 6),
            "seconds": "measured duration" if self.decode_tps is None else "tokens ÷ configured tokens/s",
            "sources": dict(self.sources),
        }
