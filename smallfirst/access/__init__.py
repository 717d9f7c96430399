"""Gateway API keys (hashed), per-key budgets, rate limits and allowed tiers."""

from smallfirst.access.gate import TIERS_HEADER, Access
from smallfirst.access.keys import KeyInfo, Limits
from smallfirst.access.keystore import KeyStore
from smallfirst.access.policy import KeyTierPolicy
from smallfirst.access.shared import AccessStoreUnavailableError, SharedAccess, open_access, open_keystore

__all__ = ["TIERS_HEADER", "Access", "AccessStoreUnavailableError", "KeyInfo", "KeyStore", "KeyTierPolicy", "Limits",
           "SharedAccess", "open_access", "open_keystore"]
