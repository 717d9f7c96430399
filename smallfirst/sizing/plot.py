"""PNG plot: monthly cost against daily volume for the plan's strategies, with break-even points."""

from __future__ import annotations

from pathlib import Path

from smallfirst.sizing.plan import Plan


def volumes(center: float, points: int = 60) -> list[float]:
    """Log-spaced daily volumes from 1/100 to 100× the planned volume (at least 10 … 10⁶)."""
    lo = max(min(center / 100, 10.0), 1.0)
    hi = max(center * 100, 1e6)
    ratio = (hi / lo) ** (1 / (points - 1))
    return [lo * ratio**i for i in range(points)]


def plot_costs(p: Plan, path: str | Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = volumes(p.workload.requests_per_day or 1000.0)
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    try:
        for s in p.strategies:
            ax.plot(xs, [max(s.monthly(x), 1e-2) for x in xs], label=s.name, linewidth=2)
        for name, v in p.break_even().items():
            found = p.strategy(name)
            if v is not None and found is not None and xs[0] <= v <= xs[-1]:
                ax.scatter([v], [max(found.monthly(v), 1e-2)], zorder=3)
                ax.annotate(f"{name} break-even\n{v:,.0f}/day", (v, found.monthly(v)), textcoords="offset points",
                            xytext=(6, -24), fontsize=8)
        if p.workload.requests_per_day > 0:
            ax.axvline(p.workload.requests_per_day, color="grey", linestyle=":", label="planned volume")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("requests per day")
        ax.set_ylabel("USD per month")
        local = p.chosen.model.id if p.chosen else "no local model"
        ax.set_title(f"Monthly cost: {p.frontier.id} vs tiered ({local} + {p.mid.id})", fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        out = Path(path)
        fig.savefig(out, bbox_inches="tight")
    finally:
        plt.close(fig)
    return out
