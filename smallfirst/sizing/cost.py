"""Monthly cost of three strategies — all-frontier, tiered, local-only — and the break-even volume.

API cost per request = tokens in × input price + tokens out × output price (catalog prices, USD per
million tokens). Local cost per month = amortised hardware (price ÷ horizon months) + energy:
busy hours × load watts + idle hours × idle watts, in kWh × tariff. A strategy's monthly cost is
``machines × fixed + volume × variable``, where one machine serves ``capacity`` requests a day
(86,400 s × parallel slots ÷ latency) and more local traffic needs more machines. The break-even
volume against all-frontier is ``fixed ÷ (frontier cost per request − variable cost per request)``,
unless one machine is full before it is reached (then adding machines never catches up).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from smallfirst.core.errors import BadRequestError
from smallfirst.core.types import Price, Usage

DAYS_PER_MONTH = 365.25 / 12


@dataclass(frozen=True, slots=True)
class Workload:
    requests_per_day: float
    tokens_in: int
    tokens_out: int
    narrow: float = 0.7  # classification, extraction, summarising, routing, tagging
    knowledge: float = 0.2  # open-knowledge questions: small models know less
    reasoning: float = 0.1  # multi-step reasoning, hard code/maths
    latency_target_s: float | None = None
    sensitive_share: float = 0.0  # share of requests that must stay on this host
    horizon_months: int = 24

    def __post_init__(self) -> None:
        if self.requests_per_day < 0:
            raise BadRequestError(f"requests per day cannot be negative, got {self.requests_per_day}")
        if self.tokens_in < 0 or self.tokens_out < 1:
            raise BadRequestError(f"tokens in/out must be ≥ 0 / ≥ 1, got {self.tokens_in}/{self.tokens_out}")
        shares = (self.narrow, self.knowledge, self.reasoning)
        if any(s < 0 for s in shares) or abs(sum(shares) - 1.0) > 1e-6:
            raise BadRequestError(f"task mix must be non-negative shares summing to 1, got {shares}",
                                  hint="e.g. --mix narrow=0.7,knowledge=0.2,reasoning=0.1")
        if not 0 <= self.sensitive_share <= 1:
            raise BadRequestError(f"sensitive share must be between 0 and 1, got {self.sensitive_share}")
        if self.horizon_months < 1:
            raise BadRequestError(f"planning horizon must be at least 1 month, got {self.horizon_months}")
        if self.latency_target_s is not None and self.latency_target_s <= 0:
            raise BadRequestError(f"latency target must be positive, got {self.latency_target_s}")

    def api_cost(self, price: Price) -> float:
        """USD for one request at this price."""
        return price.cost(Usage(self.tokens_in, self.tokens_out))


@dataclass(frozen=True, slots=True)
class LocalCosts:
    hardware_usd: float
    power_w: float
    idle_w: float
    tariff_usd_per_kwh: float
    horizon_months: int
    seconds_per_request: float  # busy time of the machine per request (estimated latency ÷ parallel slots)

    def __post_init__(self) -> None:
        for name in ("hardware_usd", "power_w", "idle_w", "tariff_usd_per_kwh", "seconds_per_request"):
            if getattr(self, name) < 0:
                raise BadRequestError(f"{name.replace('_', ' ')} cannot be negative, got {getattr(self, name)}")

    @property
    def fixed_monthly(self) -> float:
        """Amortised hardware + idle energy (idle all day; busy time is charged per request)."""
        idle_kwh = self.idle_w * 24 * DAYS_PER_MONTH / 1000
        return self.hardware_usd / self.horizon_months + idle_kwh * self.tariff_usd_per_kwh

    @property
    def per_request(self) -> float:
        """Extra energy of one request above idle."""
        return (self.power_w - self.idle_w) * self.seconds_per_request / 3600 / 1000 * self.tariff_usd_per_kwh


@dataclass(frozen=True, slots=True)
class Strategy:
    name: str
    shares: tuple[float, float, float]  # local, mid, frontier
    fixed_monthly: float  # per local machine
    per_request: float
    api_per_request: float
    capacity_rpd: float | None = None  # requests/day one local machine serves; None: not limited/unknown

    def machines(self, requests_per_day: float) -> int:
        if self.shares[0] <= 0:
            return 0
        if not self.capacity_rpd:
            return 1
        return max(1, math.ceil(requests_per_day * self.shares[0] / self.capacity_rpd - 1e-9))

    def monthly(self, requests_per_day: float) -> float:
        fixed = self.fixed_monthly * self.machines(requests_per_day)
        return fixed + requests_per_day * DAYS_PER_MONTH * self.per_request

    def as_dict(self, requests_per_day: float, local: LocalCosts | None) -> dict[str, Any]:
        monthly_requests = requests_per_day * DAYS_PER_MONTH
        machines = self.machines(requests_per_day)
        hardware = 0.0
        if local is not None and machines:
            hardware = machines * local.hardware_usd / local.horizon_months
        api = monthly_requests * self.api_per_request
        energy = self.monthly(requests_per_day) - hardware - api
        return {"strategy": self.name, "shares": {"local": round(self.shares[0], 3), "mid": round(self.shares[1], 3),
                                                  "frontier": round(self.shares[2], 3)},
                "monthly_usd": round(self.monthly(requests_per_day), 2), "api_usd": round(api, 2),
                "hardware_usd": round(hardware, 2), "energy_usd": round(max(energy, 0.0), 2),
                "local_machines": machines}


def strategy(name: str, shares: tuple[float, float, float], w: Workload, mid: Price, frontier: Price,
             local: LocalCosts | None, capacity_rpd: float | None = None) -> Strategy:
    l_share, m_share, f_share = shares
    api = m_share * w.api_cost(mid) + f_share * w.api_cost(frontier)
    per_req = api
    fixed = 0.0
    if l_share > 0:
        if local is None:
            raise BadRequestError(f"strategy {name!r} routes requests locally but no local model fits this machine")
        per_req += l_share * local.per_request
        fixed = local.fixed_monthly
    return Strategy(name, shares, fixed, per_req, api, capacity_rpd)


def break_even_requests_per_day(s: Strategy, frontier: Strategy) -> float | None:
    """Daily volume above which ``s`` is cheaper than ``frontier``; None if it never is."""
    saving = frontier.per_request - s.per_request
    if saving <= 0:
        return None
    volume = s.fixed_monthly / (saving * DAYS_PER_MONTH)
    if s.capacity_rpd and s.shares[0] > 0 and volume * s.shares[0] > s.capacity_rpd:
        return None  # one machine is full first; each further machine adds the same fixed cost per volume
    return volume
