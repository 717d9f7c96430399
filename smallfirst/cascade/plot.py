"""PNG plot of a threshold calibration (matplotlib, Agg backend; imported lazily)."""

from __future__ import annotations

from pathlib import Path

from smallfirst.cascade.calibrate import Calibration


def plot_calibration(cal: Calibration, path: str | Path) -> Path:
    """Quality and local share against the acceptance threshold, the chosen threshold marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def col(name: str) -> list[float]:
        return [float("nan") if x is None else x for x in cal.curve[name]]

    c = {k: col(k) for k in cal.curve}
    tau = c["threshold"]
    fig, ax = plt.subplots(figsize=(7.5, 4.8), dpi=120)
    ax.plot(tau, c["local_share"], color="tab:green", label=f"share kept on {cal.tier}")
    ax.plot(tau, c["accepted_quality"], color="tab:blue", label=f"quality of accepted {cal.tier} answers")
    if "quality" in c:
        ax.plot(tau, c["quality"], color="tab:purple", label=f"cascade quality ({cal.tier} → {cal.upper})")
    ax.axhline(cal.target, color="tab:red", linewidth=0.8, alpha=0.7)
    ax.text(tau[0], cal.target, f" target {cal.target:.3f}", color="tab:red", va="bottom", fontsize=8)
    ax.axvline(cal.threshold, color="0.3", linestyle="--", linewidth=0.9)
    auroc = f", AUROC {cal.auroc:.3f}" if cal.auroc is not None else ""
    ax.set_title(f"min_confidence = {cal.threshold:.3f}: {cal.local_share:.1%} kept on {cal.tier}{auroc}",
                 fontsize=10)
    ax.set_xlabel("acceptance threshold (confidence)")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out)
    plt.close(fig)
    return out
