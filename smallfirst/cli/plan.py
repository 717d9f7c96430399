"""`smallfirst plan`: what fits this machine, how fast, what a tiered setup costs — and a ready config.

``smallfirst plan --model llama-3.1-8b-instruct --quant Q4_K_M --context 4096 --json`` prints one
memory/speed estimate; without ``--model`` it plans for a workload (shortlist, tier mix, monthly
cost of all-frontier vs tiered vs local-only, break-even volume) and can ``--write`` the config.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from smallfirst.catalog import Catalog, load_catalog
from smallfirst.catalog.prices import strip_route
from smallfirst.cli.app import new_app
from smallfirst.core.errors import BadRequestError
from smallfirst.sizing import machine as machines
from smallfirst.sizing.cost import Workload
from smallfirst.sizing.plan import (
    DEFAULT_FRONTIER,
    DEFAULT_MID,
    DEFAULT_TARIFF_USD_PER_KWH,
    PlanOptions,
    make_plan,
    plan_to_dict,
)
from smallfirst.sizing.recommend import AUTO, MIN_DECODE_TPS, auto_quants, evaluate
from smallfirst.sizing.tables import estimate_table, plan_view
from smallfirst.sizing.writeconfig import LocalBackend

MEASURED_WHAT = "numpy copy, one process (a lower bound)"


def parse_mix(text: str) -> tuple[float, float, float]:
    """``narrow=0.7,knowledge=0.2,reasoning=0.1`` (shares or percentages) → (narrow, knowledge, reasoning)."""
    shares = {"narrow": 0.0, "knowledge": 0.0, "reasoning": 0.0}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        key = key.strip().lower()
        if not sep or key not in shares:
            raise BadRequestError(f"bad --mix item {part.strip()!r}",
                                  hint="use narrow=0.7,knowledge=0.2,reasoning=0.1")
        try:
            shares[key] = float(value)
        except ValueError:
            raise BadRequestError(f"bad --mix share {value.strip()!r} for {key}", hint="shares are numbers") from None
    total = sum(shares.values())
    if 99.0 <= total <= 101.0:  # percentages
        shares = {k: v / 100 for k, v in shares.items()}
    return shares["narrow"], shares["knowledge"], shares["reasoning"]


def _positive(name: str, value: float | None, *, allow_zero: bool = False) -> None:
    if value is not None and (value < 0 or (value == 0 and not allow_zero)):
        raise BadRequestError(f"{name} must be {'non-negative' if allow_zero else 'positive'}, got {value:g}")


def resolve_machine(cat: Catalog, hardware: str | None, memory_gb: float | None, bandwidth_gbps: float | None,
                    tflops: float | None, measure: bool, console: Console, fresh: bool = False) -> machines.Machine:
    """The machine to plan for; ``measure`` probes a CPU machine whose bandwidth nothing else gives (the
    figures of an earlier probe are reused for a week unless ``fresh``: smallfirst.sizing.measured)."""
    _positive("--memory-gb", memory_gb)
    _positive("--bandwidth-gbps", bandwidth_gbps)
    _positive("--tflops", tflops)
    if hardware is not None:
        m = machines.from_profile(cat, cat.hardware_profile(hardware), memory_gb)
    else:
        from smallfirst.sizing.probe import probe

        m = machines.from_probe(cat, probe(), memory_gb)
    if bandwidth_gbps is not None or (m.bandwidth_gbps is not None and hardware is not None):
        measure = False  # a given or cited figure wins over a single-process measurement
    if measure and m.backend == "cpu":
        from smallfirst.sizing.measured import cpu_figures

        with console.status("measuring memory bandwidth and matmul throughput …"):
            cpu = cpu_figures(m.name, fresh=fresh)
        m = m.with_bandwidth(cpu.bandwidth_gbps, cpu.source(MEASURED_WHAT))
        if m.tflops is None:
            m = m.with_tflops(cpu.tflops, cpu.source("numpy float32 matmul"), measured=True)
    elif measure and m.bandwidth_gbps is None:
        console.print("[yellow]--measure probes CPU memory only; pass --bandwidth-gbps for this GPU[/]")
    if bandwidth_gbps is not None:
        m = m.with_bandwidth(bandwidth_gbps, "--bandwidth-gbps")
    if tflops is not None:
        m = m.with_tflops(tflops, "--tflops")
    return m


def single_estimate(cat: Catalog, machine: machines.Machine, model: str, quant: str, context: int, parallel: int,
                    kv_cache: str, tokens_in: int, tokens_out: int, efficiency: float | None,
                    flash_attention: bool) -> dict[str, Any]:
    m = cat.model(model)
    if quant == AUTO:
        quant = "MXFP4" if m.moe_expert_params_b else auto_quants(m)[0]
    c = evaluate(cat, machine, m, quant, context=context, parallel=parallel, kv_cache_type=kv_cache,
                 prompt_tokens=tokens_in, output_tokens=tokens_out, efficiency=efficiency,
                 flash_attention=flash_attention)
    out = c.as_dict()
    out["machine"] = machine.as_dict()
    out["ollama_size_gb"] = m.ollama_size_gb
    out["ollama_quant"] = m.ollama_quant
    return out


def plan(
    hardware: Annotated[str | None, typer.Option(help="catalog hardware profile (default: probe this machine)")] = None,
    memory_gb: Annotated[float | None, typer.Option(help="override the memory size in GB")] = None,
    bandwidth_gbps: Annotated[float | None, typer.Option(help="override memory bandwidth (GB/s)")] = None,
    tflops: Annotated[float | None, typer.Option(help="compute for prefill estimates (TFLOPS)")] = None,
    measure: Annotated[bool | None, typer.Option(
        "--measure/--no-measure",
        help="measure CPU bandwidth/compute again with a short numpy probe (default for plans: reuse this "
             "machine's last probe, up to a week old, else measure)")] = None,
    model: Annotated[str | None, typer.Option(help="one catalog model id or Ollama tag: estimate it alone")] = None,
    quant: Annotated[str, typer.Option(help="GGUF type (Q4_K_M, Q5_K_M, Q8_0, F16 …), NF4, or auto "
                                       "(the Ollama default tag's)")] = AUTO,
    context: Annotated[int, typer.Option(help="context tokens per request slot")] = 4096,
    parallel: Annotated[int, typer.Option(help="parallel request slots (multiplies the KV cache)")] = 1,
    kv_cache: Annotated[str, typer.Option(help="KV cache type: f16, q8_0, q4_0")] = "f16",
    flash_attention: Annotated[bool, typer.Option(help="runtime uses flash attention")] = False,
    requests_per_day: Annotated[float, typer.Option(help="workload volume")] = 10_000,
    tokens_in: Annotated[int, typer.Option(help="typical prompt tokens")] = 500,
    tokens_out: Annotated[int, typer.Option(help="typical output tokens")] = 200,
    mix: Annotated[str, typer.Option(help="task mix shares")] = "narrow=0.7,knowledge=0.2,reasoning=0.1",
    latency_s: Annotated[float | None, typer.Option(help="latency target per request (s)")] = None,
    sensitive_share: Annotated[float, typer.Option(help="share of requests that must stay local")] = 0.0,
    horizon_months: Annotated[int, typer.Option(help="hardware amortisation horizon")] = 24,
    hardware_cost: Annotated[float | None, typer.Option(help="hardware price in USD")] = None,
    power_watts: Annotated[float | None, typer.Option(help="power draw under load (W)")] = None,
    idle_watts: Annotated[float, typer.Option(help="power draw when idle (W)")] = 0.0,
    tariff: Annotated[float, typer.Option(help="electricity price, USD per kWh")] = DEFAULT_TARIFF_USD_PER_KWH,
    mid_model: Annotated[str, typer.Option(help="API model for the mid tier")] = DEFAULT_MID,
    frontier_model: Annotated[str, typer.Option(help="API model for the frontier tier")] = DEFAULT_FRONTIER,
    min_tokens_per_s: Annotated[float, typer.Option(help="decode speed floor for the local tier")] = MIN_DECODE_TPS,
    efficiency: Annotated[float | None, typer.Option(help="share of the bandwidth bound reached (0–1)")] = None,
    allow_noncommercial: Annotated[bool, typer.Option(help="also recommend non-commercial licences")] = False,
    write: Annotated[Path | None, typer.Option(help="write a ready smallfirst.toml here")] = None,
    force: Annotated[bool, typer.Option(help="overwrite an existing --write file")] = False,
    local_backend: Annotated[str, typer.Option(help="--write: local tier backend: embedded (serves here with "
                                               "nothing else installed: a --gguf, or the bundled SmolLM2) "
                                               "or ollama (the planned model's tag)")] = "embedded",
    all_tiers: Annotated[bool, typer.Option("--all-tiers", help="--write: write API tiers active even when their "
                                            "key variable is not set (default: commented out, 'needs KEY')")
                         ] = False,
    gguf: Annotated[Path | None, typer.Option(help="GGUF file for the embedded backend")] = None,
    plot: Annotated[Path | None, typer.Option(help="write a PNG of monthly cost vs volume")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    top: Annotated[int, typer.Option(help="shortlist length")] = 8,
) -> None:
    """Size local models for this machine (or a named profile) and plan a tiered setup."""
    console = Console(stderr=json_out)
    for name, value in (("--context", context), ("--parallel", parallel), ("--tokens-out", tokens_out),
                        ("--horizon-months", horizon_months), ("--top", top)):
        _positive(name, value)
    for name, fvalue in (("--tokens-in", tokens_in), ("--idle-watts", idle_watts), ("--tariff", tariff),
                         ("--hardware-cost", hardware_cost), ("--power-watts", power_watts),
                         ("--min-tokens-per-s", min_tokens_per_s)):
        _positive(name, fvalue, allow_zero=True)
    if efficiency is not None and not 0 < efficiency <= 1:
        raise BadRequestError(f"--efficiency must be in (0, 1], got {efficiency:g}")
    if local_backend not in ("ollama", "embedded"):
        from smallfirst.cli.errors import UsageError
        from smallfirst.core.suggest import did_you_mean

        raise UsageError(f"unknown --local-backend {local_backend!r}",
                         hint=(did_you_mean(local_backend, ("ollama", "embedded")) + " use ollama or embedded").strip())
    cat = load_catalog()
    quant = quant.strip().upper() if quant.strip().lower() != AUTO else AUTO
    if quant != AUTO and quant != "NF4":
        cat.file_type(quant)  # unknown names fail here, before any probing
    cat.kv_bytes_per_element(kv_cache)
    single = model is not None and write is None and plot is None
    machine = resolve_machine(cat, hardware, memory_gb, bandwidth_gbps, tflops,
                              measure if measure is not None else not single, console, fresh=measure is True)
    if single and model is not None:
        est = single_estimate(cat, machine, model, quant, context, parallel, kv_cache, tokens_in, tokens_out,
                              efficiency, flash_attention)
        if json_out:
            typer.echo(json.dumps(est))
        else:
            console.print(estimate_table(est))
        return
    narrow, knowledge, reasoning = parse_mix(mix)
    work = Workload(requests_per_day, tokens_in, tokens_out, narrow, knowledge, reasoning, latency_s,
                    sensitive_share, horizon_months)
    options = PlanOptions(
        context=context, parallel=parallel, kv_cache_type=kv_cache, flash_attention=flash_attention,
        quants=(quant,), efficiency=efficiency, min_tps=min_tokens_per_s,
        allow_noncommercial=allow_noncommercial, mid_model=mid_model, frontier_model=frontier_model,
        tariff_usd_per_kwh=tariff, power_w=power_watts, idle_w=idle_watts, hardware_usd=hardware_cost,
        only_models=(cat.model(model),) if model is not None else None)
    result = make_plan(cat, machine, work, options)
    doc = plan_to_dict(result, top)
    if write is not None:
        from smallfirst.sizing.writeconfig import write_config

        backend: LocalBackend = "embedded" if local_backend == "embedded" else "ollama"
        written = write_config(write, result, local_backend=backend, gguf=str(gguf) if gguf else None, force=force,
                               mid_upstream=strip_route(mid_model), frontier_upstream=strip_route(frontier_model),
                               serve_here=not all_tiers)
        doc["config_tiers"] = list(written.tier_names)
        doc["config_written"] = str(write)
        doc["config_target_mix"] = written.routing.target_mix  # the planned mix, for the mix governor
    if plot is not None:
        from smallfirst.sizing.plot import plot_costs

        doc["plot_written"] = str(plot_costs(result, plot))
    if json_out:
        typer.echo(json.dumps(doc))
        return
    console.print(plan_view(doc))
    for key, label in (("config_written", "config"), ("plot_written", "plot")):
        if key in doc:
            console.print(f"wrote {label}: {doc[key]}")
    if "config_tiers" in doc:
        console.print(f"serving tiers: {', '.join(doc['config_tiers'])} (API tiers whose key is not set are "
                      "commented out in the file); next: smallfirst serve -c " + str(write))
        planned = doc.get("config_target_mix")
        console.print("target_mix: " + (", ".join(f"{t} {v:.0%}" for t, v in planned.items()) if planned else
                                        "not set (commented out with its tiers, or no local share planned)"))
    sys.stdout.flush()


app = new_app(add_completion=False)
app.command()(plan)
