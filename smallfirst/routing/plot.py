"""PNG plots of the router benchmark (matplotlib, Agg backend; imported lazily)."""

from __future__ import annotations

from pathlib import Path

from smallfirst.routing.benchmark import BenchResult


def plot_bench(result: BenchResult, path: str | Path) -> Path:
    """Two tiers: quality vs strong-call share (pooled out-of-fold); more tiers: cost vs quality hulls."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from smallfirst.routing.metrics import upper_hull

    s = result.summary
    tiers = s["tiers"]
    fig, ax = plt.subplots(figsize=(7.5, 5.0), dpi=120)
    styles = {"oracle": ("k", "--"), "random": ("0.5", ":")}
    if len(tiers) == 2:
        for name, (c, q) in result.curves.items():
            color, ls = styles.get(name, (None, "-"))
            apgr = s["routers"].get(name, {}).get("apgr")
            lab = f"{name} (APGR {apgr:.3f})" if isinstance(apgr, float) else name
            ax.plot(c * 100, q, ls, color=color, label=lab, linewidth=1.6 if name == s["best"] else 1.0)
        q95 = s["quality_95"]
        ax.axhline(q95, color="tab:red", linewidth=0.8, alpha=0.6)
        ax.text(1, q95, f" 95% of {tiers[1]}", color="tab:red", va="bottom", fontsize=8)
        for t in tiers:
            a = s["always"][t]
            ax.plot([0 if t == tiers[0] else 100], [a["quality"]], "o", color="0.2")
        ax.set_xlabel(f"calls to {tiers[1]} (%)")
    else:
        for name, (x, q) in result.points.items():
            hx, hy = upper_hull(x, q)
            color, ls = styles.get(name, (None, "-"))
            aiq = s["routers"].get(name, {}).get("aiq")
            lab = f"{name} (AIQ {aiq:.3f})" if isinstance(aiq, float) else name
            ax.plot(hx, hy, ls, color=color, marker=".", label=lab)
        for t in tiers:
            a = s["always"][t]
            ax.plot([a["cost"]], [a["quality"]], "o", color="0.2")
            ax.annotate(t, (a["cost"], a["quality"]), fontsize=8)
        ax.set_xlabel(f"mean cost per request ({s['cost_unit']})")
    ax.set_ylabel("mean quality")
    ax.set_title(f"router benchmark {s.get('label') or ''}: n={s['n']}, {s['folds']}-fold CV grouped by prompt",
                 fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p)
    plt.close(fig)
    return p
