"""The residency evidence as a standalone HTML page and as table rows (shared with the terminal report)."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from smallfirst.dashboard.report_html import _CSS, _table


def _pairs(d: Mapping[str, int]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in d.items()) or "–"


CLASS_HEAD = ["class", "requests", "served", "blocked (503 policy)", "failed", "left host", "of them redacted",
              "served by tier", "served at location"]
ENTITY_HEAD = ["entity type", "class", "requests", "occurrences"]
SERVED_HEAD = ["tier", "endpoint", "location", "requests"]
LEFT_HEAD = ["request id", "time", "classes", "locations", "tiers", "redacted"]


def class_rows(e: Mapping[str, Any]) -> list[list[Any]]:
    return [[c["class"], f"{c['requests']:,}", f"{c['served']:,}", f"{c['blocked_by_policy']:,}",
             f"{c['failed']:,}", f"{c['left_host']:,}", f"{c['left_host_redacted']:,}", _pairs(c["tiers"]),
             _pairs(c["locations"])]
            for c in e["by_class"]]


def entity_rows(e: Mapping[str, Any]) -> list[list[Any]]:
    return [[x["entity"], x["class"], f"{x['requests']:,}", f"{x['occurrences']:,}"] for x in e["by_entity"]]


def served_rows(e: Mapping[str, Any]) -> list[list[Any]]:
    return [[x["tier"], x["endpoint"], x["location"], f"{x['requests']:,}"] for x in e["served_by"]]


def left_rows(e: Mapping[str, Any]) -> list[list[Any]]:
    return [[x["request_id"], x["time"], ", ".join(x["classes"]), ", ".join(x["locations"]), ", ".join(x["tiers"]),
             _masked_cell(x)] for x in e["left_host_requests"]]


def _masked_cell(x: Mapping[str, Any]) -> str:
    """``masked: email 2, iban 1`` for a request that left redacted; ``no`` when it left as is."""
    return "masked: " + _pairs(x["masked"]) if x["redacted"] else "no"


REDACTED_HEAD = ["entity type", "values masked"]
UNFLAGGED_HEAD = ["tier", "location", "unflagged requests that left"]


def unflagged_rows(e: Mapping[str, Any]) -> list[list[Any]]:
    """Requests with no findings that left this host, by tier and location (counted, not certified)."""
    return [[x["tier"], x["location"], f"{x['requests']:,}"] for x in e["unflagged"]["by_tier"]]


def redacted_rows(e: Mapping[str, Any]) -> list[list[Any]]:
    """What requests that left redacted had masked: entity types and counts of distinct values."""
    return [[k, f"{v:,}"] for k, v in e["redacted_entities"].items()]


def outcome_line(e: Mapping[str, Any]) -> str:
    o = e["outcomes"]
    failed = sum(o["failed"].values())
    detail = f" ({_pairs(o['failed'])})" if failed else ""
    return (f"{o['served']:,} served, {o['blocked_by_policy']:,} blocked by policy (503; "
            f"{o['blocked_after_local_failure']:,} of them after the allowed tiers failed), "
            f"{failed:,} failed on the allowed tiers{detail}")


def render_residency_html(e: Mapping[str, Any], title: str = "smallfirst residency evidence") -> str:
    rg = e["range"]
    bad = e["left_host_unredacted"] or e["unverified"]
    colour = "#c0392b" if bad else "#b9770e" if e["left_host_redacted"] else "#16a085"
    parts = [f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)}</title>"
             f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>",
             f"<p class=muted>{html.escape(rg['since'])} → {html.escape(rg['until'])} · generated "
             f"{html.escape(e['generated'])}</p>",
             f"<p id=statement style='font-size:18px;font-weight:600;color:{colour}'>"
             f"{html.escape(e['statement'])}</p>",
             *([f"<p id=basis class=muted>Basis: {html.escape(e['basis']['statement'])}</p>"] if e.get("basis")
               else []),
             f"<p>{e['sensitive_requests']:,} of {e['requests']:,} logged requests were sensitive: "
             f"{html.escape(outcome_line(e))}.</p>"]
    parts.append("<h2>By data class</h2>" + _table(CLASS_HEAD, class_rows(e)))
    parts.append("<h2>By entity type</h2>" + _table(ENTITY_HEAD, entity_rows(e)))
    parts.append("<h2>Served by</h2>" + _table(SERVED_HEAD, served_rows(e)))
    parts.append("<h2>Attempts by location</h2>" + _table(
        ["location", "attempts"], [[k, f"{v:,}"] for k, v in e["attempts_by_location"].items()]))
    if e["redacted_entities"]:
        parts.append("<h2>Masked before leaving this host</h2>" + _table(REDACTED_HEAD, redacted_rows(e)))
    if e["left_host_requests"]:
        parts.append("<h2>Requests that left this host</h2>" + _table(LEFT_HEAD, left_rows(e)))
    parts.append(f"<h2>Unflagged requests</h2><p id=unflagged>{html.escape(e['unflagged']['statement'])}</p>"
                 + (_table(UNFLAGGED_HEAD, unflagged_rows(e)) if e["unflagged"]["by_tier"] else ""))
    parts.append("".join(f"<p class=muted>{html.escape(n)}</p>" for n in e["notes"]) + "</body></html>")
    return "\n".join(parts)
