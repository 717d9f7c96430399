"""Gateway API keys (hashed), per-key budgets, rate limits and allowed tiers."""

from smallfirst.access.gate import Access
from smallfirst.access.keys import KeyInfo, Limits
from smallfirst.access.keystore import KeyStore
from smallfirst.access.shared import AccessStoreUnavailableError, SharedAccess, open_access, open_keystore

__all__ = ["Access", "AccessStoreUnavailableError", "KeyInfo", "KeyStore", "Limits", "SharedAccess", "open_access",
           "open_keystore"]
