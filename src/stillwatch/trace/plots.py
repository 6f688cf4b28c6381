"""Plots for trace results (matplotlib, Agg backend; imported lazily)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot_curve(result: Any, path: Path) -> None:
    """p-value (log scale) against distinct tuples scored, from a RadioactivityResult's curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [max(1, c["n_scored"]) for c in result.curve]
    ys = [max(c["p_value"], 1e-300) for c in result.curve]
    fig, ax = plt.subplots(figsize=(5, 3.4))
    ax.loglog(xs, ys, marker="o")
    ax.axhline(1e-5, color="grey", ls="--", lw=0.8, label="1e-5")
    ax.set_xlabel("distinct (context, token) tuples scored")
    ax.set_ylabel("p-value")
    ax.set_title(f"{result.setting}-model radioactivity: {result.suspect}", fontsize=9)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
