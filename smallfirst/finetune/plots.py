"""PNG plots for fine-tuning reports (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot_losses(report: dict[str, Any], path: Path) -> Path:
    """The training loss per step (and its moving average), with the held-out loss before and after."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    losses = report["losses"]
    fig, ax = plt.subplots(figsize=(7, 4))
    try:
        steps = list(range(1, len(losses) + 1))
        ax.plot(steps, losses, lw=0.8, alpha=0.5, label="train loss")
        k = max(1, len(losses) // 20)
        if k > 1:
            avg = [sum(losses[max(0, i - k + 1):i + 1]) / len(losses[max(0, i - k + 1):i + 1])
                   for i in range(len(losses))]
            ax.plot(steps, avg, lw=1.6, label=f"moving average ({k} steps)")
        for key, style, label in (("heldout_loss_before", "--", "held-out loss, base"),
                                  ("heldout_loss_after", ":", "held-out loss, tuned")):
            if report.get(key) is not None:
                ax.axhline(report[key], ls=style, color="gray" if "before" in key else "black", label=label)
        ax.set_xlabel("step")
        ax.set_ylabel("loss (answer tokens)")
        ax.set_title(f"{report['mode']} on {report['base']['name']} ({report['device']})", fontsize=9)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(path, dpi=120)
    finally:
        plt.close(fig)
    return path
