"""``[costs.local]`` and ``[tiers.endpoints.local_cost]``: what answers from your own hardware cost.

Every endpoint on this host is priced by the model in :mod:`smallfirst.core.local_cost` (amortised hardware
+ energy per second of work) with the figures of ``[costs.local]``; an endpoint's own ``local_cost`` table
replaces the figures it sets (and prices an endpoint off this host, e.g. a GPU box on your own network).
Unset figures come from the catalog hardware ``profile`` when one is named, else from the same assumptions
``smallfirst plan`` makes (README "Local cost"). The cost is logged apart from API spend (``local_cost_usd``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SPEED_FIELDS = ("decode_tokens_per_s", "prefill_tokens_per_s")


class LocalCostConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool | None = Field(default=None, description="price answers from this hardware (default true; "
                                 "false: logged with local cost 0)")
    profile: str | None = Field(default=None, description="catalog hardware profile (`smallfirst catalog "
                                "hardware`) whose cited price and power are the defaults for hardware_usd and "
                                "watts")
    hardware_usd: float | None = Field(default=None, ge=0, description="what the machine cost (default: the "
                                       "profile's price, else 0: already paid for, only energy counted)")
    lifetime_years: float | None = Field(default=None, gt=0, le=50, description="years the price is spread "
                                         "over (default 2, plan's 24-month horizon)")
    utilisation: float | None = Field(default=None, gt=0, le=1, description="share of its lifetime the machine "
                                      "is busy generating (default 1.0: the least the hardware can cost per "
                                      "second; plan --write derives it from the planned volume)")
    watts: float | None = Field(default=None, ge=0, description="power drawn while generating (default: the "
                                "profile's cited power, else 100 W, plan's assumption)")
    usd_per_kwh: float | None = Field(default=None, ge=0, description="electricity price (default 0.30, plan's "
                                      "assumed tariff)")
    decode_tokens_per_s: float | None = Field(default=None, gt=0, description="generation speed; set: seconds "
                                              "of work = tokens ÷ speed; unset: the attempt's measured duration")
    prefill_tokens_per_s: float | None = Field(default=None, gt=0, description="prompt processing speed (with "
                                               "decode_tokens_per_s; unset: prompt time not counted)")
    parallel: int | None = Field(default=None, ge=1, le=1024, description="requests the runtime serves at once "
                                 "(each is charged 1/parallel of the machine; default 1)")

    @field_validator("profile")
    @classmethod
    def _known_profile(cls, v: str | None) -> str | None:
        if v is not None:
            from smallfirst.catalog import load_catalog
            from smallfirst.core.errors import BadRequestError

            try:
                load_catalog().hardware_profile(v)
            except BadRequestError as err:
                raise ValueError(f"{err.message}; {err.hint}" if err.hint else err.message) from None
        return v

    @model_validator(mode="after")
    def _prefill_needs_decode(self) -> LocalCostConfig:
        if self.prefill_tokens_per_s is not None and self.decode_tokens_per_s is None:
            raise ValueError("prefill_tokens_per_s needs decode_tokens_per_s in the same table (without a decode "
                             "speed the attempt's measured duration is used)")
        return self

    def over(self, base: LocalCostConfig) -> LocalCostConfig:
        """These figures over ``base``'s: each field set here wins; the two speeds go together (a table that
        sets decode_tokens_per_s brings its own prefill_tokens_per_s, set or not)."""
        mine = self.model_fields_set
        merged: dict[str, Any] = {k: getattr(self if k in mine else base, k) for k in type(self).model_fields}
        if "decode_tokens_per_s" in mine:
            merged["prefill_tokens_per_s"] = self.prefill_tokens_per_s
        return LocalCostConfig(**merged)


class CostsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    local: LocalCostConfig = Field(default_factory=LocalCostConfig, description="the cost of answers from this "
                                   "host's hardware (amortised hardware + energy), logged apart from API spend")
