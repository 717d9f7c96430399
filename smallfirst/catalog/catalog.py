"""The catalog: typed accessors over ``data/catalog.json`` (loaded once per Catalog object)."""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smallfirst.catalog.prices import candidates, canonical_key
from smallfirst.catalog.types import ApiPrice, HardwareProfile, ModelInfo
from smallfirst.core.errors import BadRequestError, ConfigError, ModelNotFoundError
from smallfirst.core.types import Price

DEFAULT_PATH = Path(__file__).parent / "data" / "catalog.json"


@dataclass(frozen=True, slots=True)
class GgmlType:
    """A GGUF tensor type: bits per weight (block overhead included) and weights per block."""

    name: str
    bits: float
    block: int
    source: str


@dataclass(frozen=True, slots=True)
class FileType:
    """A whole-file quantisation (``Q4_K_M`` …): the tensor type of the body, embeddings and output."""

    name: str
    base: str
    embed: str
    output: str
    experts: str | None = None
    reference_gib: float | None = None  # llama.cpp's printed size on the reference model


def _closest(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word.lower(), options, n=3, cutoff=0.5)
    return f"did you mean {', '.join(close)}?" if close else f"known: {', '.join(sorted(options)[:12])} …"


class Catalog:
    """Models, hardware profiles, API prices and GGUF sizing tables, each with its citation."""

    def __init__(self, doc: Mapping[str, Any], origin: str = "catalog") -> None:
        try:
            self.models = tuple(ModelInfo.from_raw(m) for m in doc["models"])
            self.hardware = tuple(HardwareProfile.from_raw(h) for h in doc["hardware"])
            self.prices = tuple(ApiPrice.from_raw(p) for p in doc["api_prices"])
            self.ggml_types = {k: GgmlType(k, float(v["bits"]), int(v["block"]), v["source"])
                               for k, v in doc["ggml_types"].items()}
            self.file_types = {k: FileType(k, v["base"], v["embed"], v["output"], v.get("experts"),
                                           v.get("reference_gib")) for k, v in doc["file_types"].items()}
            self.file_types_source: str = doc["file_types_source"]
            self.fallback_types: Mapping[str, str] = doc["fallback_types"]
            self.quant_reference: Mapping[str, Any] = doc["quant_reference"]
            self.nf4: Mapping[str, Any] = doc["nf4"]
            self.kv_bytes: Mapping[str, float] = {k: float(v) for k, v in doc["kv_cache_bytes_per_element"].items()}
            self.kv_cache_source: str = doc["kv_cache_source"]
            self.runtime: Mapping[str, Any] = doc["runtime"]
            self.measurements: Mapping[str, Any] = doc["measurements"]
            aliases: Mapping[str, str] = doc.get("price_aliases", {})
        except (KeyError, TypeError, ValueError) as err:
            raise ConfigError(f"{origin}: malformed catalog ({err!r})",
                              hint="rebuild it with `python -m smallfirst.catalog.build`") from None
        self.origin = origin
        self._models = {m.id: m for m in self.models}
        self._model_alias: dict[str, ModelInfo] = {}
        for m in self.models:
            for key in (m.id, m.ollama_tag, m.hf_repo, m.hf_repo.rsplit("/", 1)[-1]):
                self._model_alias.setdefault(key.lower(), m)
        self._hardware = {h.id: h for h in self.hardware}
        self._price_exact = {p.id.lower(): p for p in self.prices}
        self._price_canon: dict[str, ApiPrice] = {}
        for p in self.prices:
            self._price_canon.setdefault(canonical_key(p.id), p)
        for alias, target in aliases.items():
            if target.lower() not in self._price_exact:
                raise ConfigError(f"{origin}: price alias {alias!r} points to unknown id {target!r}",
                                  hint="fix price_aliases in smallfirst/catalog/data/additions.json")
            self._price_exact[alias.lower()] = self._price_exact[target.lower()]

    # --- models -------------------------------------------------------------------------------

    def find_model(self, key: str) -> ModelInfo | None:
        """A model by catalog id, Ollama tag (``llama3.1:8b``) or Hugging Face repo, case-insensitive."""
        k = key.strip().lower()
        found = self._model_alias.get(k)
        if found is None and ":" not in k:  # a bare Ollama name: unique when one catalog tag has it
            tagged = [m for m in self.models if m.ollama_tag.lower().split(":")[0] == k]
            found = tagged[0] if len(tagged) == 1 else None
        return found

    def model(self, key: str) -> ModelInfo:
        found = self.find_model(key)
        if found is None:
            raise ModelNotFoundError(f"unknown model {key!r}",
                                     hint=_closest(key, [m.id for m in self.models] +
                                                   [m.ollama_tag for m in self.models]) +
                                     " (see `smallfirst catalog models`)")
        return found

    # --- hardware -----------------------------------------------------------------------------

    def hardware_profile(self, key: str) -> HardwareProfile:
        found = self._hardware.get(key.strip().lower())
        if found is None:
            raise BadRequestError(f"unknown hardware profile {key!r}",
                                  hint=_closest(key, list(self._hardware)) + " (see `smallfirst catalog hardware`)")
        return found

    def match_hardware(self, device_name: str) -> HardwareProfile | None:
        """The profile whose longest ``match`` pattern occurs in a probed device name."""
        name = device_name.lower()
        best: tuple[int, HardwareProfile] | None = None
        for h in self.hardware:
            for pat in h.match:
                if pat.lower() in name and (best is None or len(pat) > best[0]):
                    best = (len(pat), h)
        return best[1] if best else None

    # --- prices -------------------------------------------------------------------------------

    def api_price(self, model: str) -> ApiPrice | None:
        """The catalog price entry for an API model name, after normalisation; None when unknown."""
        for cand in candidates(model):
            hit = self._price_exact.get(cand) or self._price_canon.get(canonical_key(cand))
            if hit is not None:
                return hit
        return None

    def price_for(self, model: str) -> Price | None:
        entry = self.api_price(model)
        return entry.to_price() if entry else None

    def api_model(self, key: str) -> ApiPrice:
        found = self.api_price(key)
        if found is None:
            raise ModelNotFoundError(f"no price for API model {key!r}",
                                     hint=_closest(strip_key(key), [p.id for p in self.prices]) +
                                     " (see `smallfirst catalog prices`)")
        return found

    # --- GGUF tables --------------------------------------------------------------------------

    def file_type(self, name: str) -> FileType:
        key = name.strip().upper()
        if key not in self.file_types:
            raise BadRequestError(f"unknown quantisation {name!r}",
                                  hint=f"choose one of: {', '.join(self.file_types)}, NF4")
        return self.file_types[key]

    def kv_bytes_per_element(self, cache_type: str) -> float:
        key = cache_type.strip().lower()
        if key not in self.kv_bytes:
            raise BadRequestError(f"unknown KV cache type {cache_type!r}",
                                  hint=f"choose one of: {', '.join(self.kv_bytes)}")
        return self.kv_bytes[key]


def strip_key(name: str) -> str:
    return name.strip().lower().rsplit("/", 1)[-1]


@functools.lru_cache(maxsize=8)
def load_catalog(path: str | None = None) -> Catalog:
    """Read and parse a catalog JSON once (cached per path); ``None`` is the packaged catalog."""
    p = Path(path) if path is not None else DEFAULT_PATH
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"catalog file {str(p)!r} not found",
                          hint="reinstall smallfirst or rebuild with `python -m smallfirst.catalog.build`") from None
    except json.JSONDecodeError as err:
        raise ConfigError(f"{p}: not valid JSON: {err}", hint="rebuild it with `python -m smallfirst.catalog.build`") \
            from None
    return Catalog(doc, str(p))


def price_for(model: str) -> Price | None:
    """The API price for ``model`` from the packaged catalog, or None when it is not listed."""
    return load_catalog().price_for(model)
