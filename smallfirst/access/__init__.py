"""Gateway API keys (hashed), per-key budgets, rate limits and allowed tiers."""

from smallfirst.access.gate import TIERS_HEADER, Access
from smallfirst.access.keys import KeyInfo, Limits
from smallfirst.access.keystore import KeyStore
from smallfirst.access.policy import KeyTierPolicy

__all__ = ["TIERS_HEADER", "Access", "KeyInfo", "KeyStore", "KeyTierPolicy", "Limits"]
