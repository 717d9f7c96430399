"""L1: model, hardware and price facts (cited data files + typed accessors)."""

from smallfirst.catalog.catalog import Catalog, FileType, GgmlType, load_catalog, price_for
from smallfirst.catalog.types import ApiPrice, HardwareProfile, ModelInfo

__all__ = ["ApiPrice", "Catalog", "FileType", "GgmlType", "HardwareProfile", "ModelInfo", "load_catalog", "price_for"]
