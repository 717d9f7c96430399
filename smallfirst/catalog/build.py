"""Build ``catalog.json`` from the cited facts file plus smallfirst's own cited additions.

Every field of the facts file is kept verbatim (citations included); additions are merged into
the matching model / hardware entries, and the extra tables (GGUF types, runtime constants,
measurements) are copied alongside. Run::

    python -m smallfirst.catalog.build ../shared/data/catalog-facts.json

which rewrites ``smallfirst/catalog/data/catalog.json`` from ``data/additions.json``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from smallfirst.core.errors import ConfigError

DATA_DIR = Path(__file__).parent / "data"
SECTIONS = ("models", "hardware", "api_prices")
EXTRA_TABLES = ("ggml_types", "file_types", "file_types_source", "quant_reference", "nf4",
                "kv_cache_bytes_per_element", "kv_cache_source", "runtime", "measurements",
                "price_aliases", "price_aliases_source", "fallback_types", "fallback_types_source")


def _merge_entries(entries: list[dict[str, Any]], extra: Mapping[str, Mapping[str, Any]],
                   section: str) -> list[dict[str, Any]]:
    ids = {e["id"] for e in entries}
    unknown = sorted(set(extra) - ids)
    if unknown:
        raise ConfigError(f"additions for unknown {section} ids: {', '.join(unknown)}",
                          hint="fix smallfirst/catalog/data/additions.json")
    out: list[dict[str, Any]] = []
    for entry in entries:
        add = extra.get(entry["id"], {})
        clash = sorted(set(add) & set(entry))
        if clash:
            raise ConfigError(f"{section} {entry['id']}: additions would overwrite cited fields {clash}",
                              hint="cited facts are kept verbatim; add a new field name instead")
        out.append({**entry, **add})
    return out


def build(facts: Mapping[str, Any], additions: Mapping[str, Any]) -> dict[str, Any]:
    """The catalog document: the facts (all fields kept) merged with the additions."""
    for key in SECTIONS:
        if not isinstance(facts.get(key), list):
            raise ConfigError(f"facts file has no list {key!r}", hint="pass shared/data/catalog-facts.json")
    doc: dict[str, Any] = {k: v for k, v in facts.items() if k not in SECTIONS}
    doc["built_from"] = "shared/data/catalog-facts.json + smallfirst/catalog/data/additions.json"
    doc["models"] = _merge_entries(list(facts["models"]), additions.get("models", {}), "models")
    doc["hardware"] = _merge_entries(list(facts["hardware"]), additions.get("hardware", {}), "hardware")
    doc["api_prices"] = [dict(p) for p in facts["api_prices"]]
    for key in EXTRA_TABLES:
        if key in additions:
            doc[key] = additions[key]
    return doc


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (1, 2):
        print("usage: python -m smallfirst.catalog.build FACTS_JSON [OUT_JSON]", file=sys.stderr)
        return 2
    facts = json.loads(Path(args[0]).read_text(encoding="utf-8"))
    additions = json.loads((DATA_DIR / "additions.json").read_text(encoding="utf-8"))
    out = Path(args[1]) if len(args) == 2 else DATA_DIR / "catalog.json"
    doc = build(facts, additions)
    out.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {out}: {len(doc['models'])} models, {len(doc['hardware'])} hardware, "
          f"{len(doc['api_prices'])} prices")
    return 0


if __name__ == "__main__":
    sys.exit(main())
