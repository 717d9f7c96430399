"""PNG plots of an eval summary (matplotlib, Agg backend; imported lazily)."""

from __future__ import annotations

import io
from typing import Any

from smallfirst.evaluate.summary import Summary


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    _plt().close(fig)
    return buf.getvalue()


def _labels(s: Summary) -> list[str]:
    lab = s.labels()
    return [lab[t.key] for t in s.targets]


def tiers_png(s: Summary) -> bytes:
    """Quality (bars; pass rate as dots), cost per 1,000 tasks, and latency p50/p95 per target."""
    plt = _plt()
    labels = _labels(s)
    x = list(range(len(labels)))
    fig, axes = plt.subplots(1, 3, figsize=(12.0, 3.8), dpi=110)
    q = [t.quality or 0.0 for t in s.targets]
    axes[0].bar(x, q, color="tab:blue", label="mean score")
    axes[0].plot(x, [t.pass_rate or 0.0 for t in s.targets], "o", color="tab:orange",
                 label=f"share ≥ {s.pass_threshold:g}")
    axes[0].set_ylim(0, 1.05)
    axes[0].set_title("quality")
    axes[0].legend(fontsize=7, loc="lower right")
    axes[1].bar(x, [1000 * (t.cost_per_task or 0.0) for t in s.targets], color="tab:green")
    axes[1].set_title("API cost per 1,000 tasks (USD)")
    p50 = [t.latency_p50_ms or 0.0 for t in s.targets]
    p95 = [t.latency_p95_ms or 0.0 for t in s.targets]
    axes[2].bar([i - 0.2 for i in x], p50, width=0.4, label="p50", color="tab:purple")
    axes[2].bar([i + 0.2 for i in x], p95, width=0.4, label="p95", color="tab:pink")
    axes[2].set_title("latency (ms)")
    axes[2].legend(fontsize=7)
    for ax in axes:
        ax.set_xticks(x, labels, rotation=20, ha="right", fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def types_png(s: Summary) -> bytes:
    """Mean score per task type and target (grouped bars)."""
    plt = _plt()
    types = list(s.by_type)
    labels = _labels(s)
    k = max(len(s.targets), 1)
    width = 0.8 / k
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(types) + 3), 3.8), dpi=110)
    for j, (tg, lab) in enumerate(zip(s.targets, labels, strict=True)):
        vals = [s.by_type[ty].get(tg.key, (0, 0.0))[1] for ty in types]
        ax.bar([i - 0.4 + width * (j + 0.5) for i in range(len(types))], vals, width=width, label=lab)
    counts = [max((n for n, _ in s.by_type[ty].values()), default=0) for ty in types]
    ax.set_xticks(range(len(types)), [f"{ty}\n(n={n})" for ty, n in zip(types, counts, strict=True)], fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("mean score")
    ax.set_title("quality per task type")
    ax.legend(fontsize=7)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def routing_png(s: Summary) -> bytes:
    """Cost per task vs quality: each tier alone, routing by task type, and the oracle's frontier."""
    plt = _plt()
    from smallfirst.routing.metrics import upper_hull

    fig, ax = plt.subplots(figsize=(6.5, 4.2), dpi=110)
    xs, ys = s.oracle_points
    if xs:
        hx, hy = upper_hull(xs, ys)
        ax.plot(1000 * hx, hy, "--", color="0.3", label="best possible router (oracle)")
    for r in s.routing:
        if r.name.startswith("always "):
            ax.plot([1000 * r.cost_per_task], [r.quality], "o", color="tab:blue")
            ax.annotate(r.name.removeprefix("always "), (1000 * r.cost_per_task, r.quality),
                        textcoords="offset points", xytext=(5, -10), fontsize=8)
        elif r.name.startswith("by task type"):
            ax.plot([1000 * r.cost_per_task], [r.quality], "*", color="tab:red", markersize=12,
                    label=f"by task type: {100 * r.local_share:.0f}% local")
    ax.set_xlabel("API cost per 1,000 tasks (USD)")
    ax.set_ylabel("mean score")
    ax.set_title("what routing would give")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return _png(fig)


def all_plots(s: Summary) -> dict[str, bytes]:
    out = {"tiers": tiers_png(s), "types": types_png(s)}
    if s.routing:
        out["routing"] = routing_png(s)
    return out
