"""Rich tables for `smallfirst plan` (built from the same dicts that ``--json`` prints)."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text


def _gb(v: float | None) -> str:
    return "–" if v is None else f"{v:.2f}"


def _num(v: float | None, fmt: str = "{:,.0f}") -> str:
    return "–" if v is None else fmt.format(v)


def _short(text: str, width: int = 18) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def estimate_table(e: dict[str, Any]) -> Table:
    title = f"{e['model']} · {e['quant']} · {e['context']:,} tokens × {e['parallel']} · KV {e['kv_cache_type']}"
    t = Table(title=title, show_header=True, header_style="bold")
    t.add_column("term")
    t.add_column("GB", justify="right")
    t.add_column("how")
    t.add_row("weights", _gb(e["weights_gb"]), e["weights_method"])
    t.add_row("KV cache", _gb(e["kv_cache_gb"]), "layers × 2 × kv_heads × head_dim × cells × bytes")
    t.add_row("compute buffer", _gb(e["compute_gb"]), "Ollama GraphSize (micro-batch 512)")
    t.add_row("runtime reserve", _gb(e["reserve_gb"]), f"{e['backend']} backend")
    t.add_row(Text("total", style="bold"), Text(_gb(e["total_gb"]), style="bold"),
              f"{e['gb_per_b_params']:.2f} GB per billion parameters")
    if "verdict" in e:
        style = "green" if e["fits"] else "red"
        t.add_row(Text("fit", style=style), "", Text(e["verdict"], style=style))
    sp = e.get("speed")
    if sp:
        label = "decode" if e.get("fits", True) else "decode (if it fit)"
        how = (f"{sp['bandwidth_gbps']:g} GB/s × {sp['decode_efficiency']:.3g} ÷ {sp['bytes_per_token_gb']:.3f} GB "
               f"per token (bound {sp['tokens_per_s_upper_bound']:.0f} tok/s)")
        t.add_row(label, f"{sp['tokens_per_s']:.0f} tok/s", how)
        ttft = sp["time_to_first_token_s"]
        first = f"{ttft:.2f} s to first token + " if ttft is not None else "prefill unknown + "
        t.add_row("request", f"{sp['request_latency_s']:.1f} s",
                  f"{first}{sp['output_tokens']} tokens out ({sp['prompt_tokens']} in)")
    rule = e.get("rule_of_thumb")
    if rule:
        verdict = "holds" if rule["holds"] else "breaks"
        t.add_row("0.6–0.8 GB/B rule", verdict, "; ".join(rule["reasons"]))
    for note in e.get("notes", []):
        t.add_row("note", "", note)
    return t


def machine_line(m: dict[str, Any]) -> Text:
    bw = f"{m['bandwidth_gbps']:g} GB/s" if m["bandwidth_gbps"] else "bandwidth unknown"
    return Text(f"Machine: {m['name']} ({m['kind']}, {m['backend']}) — {m['memory_gb']:.1f} GB, "
                f"{m['usable_gb']:.1f} GB usable [{m['usable_basis']}], {bw}", style="bold")


def shortlist_table(rows: list[dict[str, Any]]) -> Table:
    t = Table(title="Local models that fit (best first)", header_style="bold")
    for col in ("model", "quant", "ctx", "weights", "KV", "overhead", "total GB", "tok/s", "latency s", "licence"):
        t.add_column(col, justify="left" if col in ("model", "quant", "licence") else "right", no_wrap=col == "model")
    for r in rows:
        speed = r.get("speed") or {}
        t.add_row(r["model"], r["quant"], f"{r['context']:,}", _gb(r["weights_gb"]), _gb(r["kv_cache_gb"]),
                  _gb(r["overhead_gb"]), _gb(r["total_gb"]), _num(r.get("tokens_per_s")),
                  _num(speed.get("request_latency_s"), "{:.1f}"), _short(r["license"] or "?"))
    return t


def cost_table(d: dict[str, Any]) -> Table:
    t = Table(title=f"Monthly cost at {d['workload']['requests_per_day']:,.0f} requests/day", header_style="bold")
    for col in ("strategy", "local / mid / frontier", "machines", "API $", "hardware $", "energy $", "total $/month",
                "break-even req/day"):
        t.add_column(col, justify="left" if col == "strategy" else "right")
    be = d["break_even_requests_per_day"]
    for s in d["monthly_cost"]:
        sh = s["shares"]
        v = be.get(s["strategy"])
        even = "–" if s["strategy"] == "all-frontier" else ("never" if v is None else "any" if v == 0 else f"{v:,.0f}")
        shares = f"{sh['local']:.0%} / {sh['mid']:.0%} / {sh['frontier']:.0%}"
        t.add_row(s["strategy"], shares, str(s["local_machines"]),
                  f"{s['api_usd']:,.2f}", f"{s['hardware_usd']:,.2f}", f"{s['energy_usd']:,.2f}",
                  f"{s['monthly_usd']:,.2f}", even)
    return t


def plan_view(d: dict[str, Any]) -> RenderableType:
    parts: list[RenderableType] = [machine_line(d["machine"])]
    if d["shortlist"]:
        parts.append(shortlist_table(d["shortlist"]))
    rec = d["recommended_local"]
    if rec:
        line = f"Recommended local model: {rec['model']} ({rec['ollama_tag']}) {rec['quant']} — {rec['why']}"
        parts.append(Text(line, style="green"))
    else:
        parts.append(Text("No local model fits this machine at a usable speed.", style="yellow"))
    mix = d["tier_mix"]
    parts.append(Text(f"Tier mix: local {mix['local']:.0%} · mid {mix['mid']:.0%} ({d['api_models']['mid']['id']}) · "
                      f"frontier {mix['frontier']:.0%} ({d['api_models']['frontier']['id']})"))
    parts += [Text(f"  · {r}") for r in mix["reasons"]]
    parts.append(cost_table(d))
    if d["left_out"]:
        parts.append(Text("Left out: " + "; ".join(f"{r['model']} — {r['reason']}" for r in d["left_out"][:6])
                          + (" …" if len(d["left_out"]) > 6 else ""), style="dim"))
    parts.append(Text("Assumptions: " + "; ".join(f"{k}: {v}" for k, v in d["assumptions"].items()), style="dim"))
    return Group(*parts)
