"""At load time: every name in the config is registered, and every options table is what its model accepts.

Run by :func:`smallfirst.config.loader.parse` after the schema, so ``smallfirst config validate`` reports a
misspelt backend or plugin option as one line naming the key; the factories check the same again when they
build (settings made in code never pass through the loader).
"""

from __future__ import annotations

from smallfirst.config.registry import registry, store_name
from smallfirst.config.schema import Settings


def check_plugins(settings: Settings, source: str = "config") -> None:
    reg = registry()
    for i, tier in enumerate(settings.tiers):
        for j, ep in enumerate(tier.endpoints):
            at = ("tiers", i, "endpoints", j)
            found = reg.get("backend", ep.backend, where=f"tiers[{i}].endpoints[{j}].backend", source=source)
            found.parse_options(ep.options, (*at, "options"), source)
    rc = settings.routing
    reg.get("router", rc.router, where="routing.router", source=source).parse_options(
        rc.options, ("routing", "options"), source)
    log_where = "log.store" if settings.log.store else "log"
    reg.get("store", store_name(settings), where=log_where, source=source).parse_options(
        settings.log.options, ("log", "options"), source)
    for name, data in settings.policies.items():
        reg.get("policy", name, where=f"policies.{name}", source=source).parse_options(data, ("policies", name), source)
    for name, data in settings.scorers.items():
        reg.get("scorer", name, where=f"scorers.{name}", source=source).parse_options(data, ("scorers", name), source)
