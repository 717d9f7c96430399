"""The cascade: task contracts, answer confidence, the acceptance check between tiers, and the
calibration of acceptance thresholds. Config keys live in :mod:`smallfirst.config.cascade`."""

from smallfirst.cascade.checker import ContractCheck
from smallfirst.cascade.contract import Contract
from smallfirst.cascade.contracts import Contracts

__all__ = ["Contract", "ContractCheck", "Contracts"]
