"""L2: policies that constrain which tiers may serve a request, before the router chooses."""

from smallfirst.policy.context_window import ContextWindowPolicy
from smallfirst.policy.residency import (
    RESIDENCY_HEADER,
    ResidencyPolicy,
)

__all__ = ["RESIDENCY_HEADER", "ContextWindowPolicy", "ResidencyPolicy"]
